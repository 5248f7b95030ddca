// CommonJS consumers: require() of the ES module package (Node ≥ 20.19 loads ES modules without top-level await).
/* global require, console */
/* eslint-disable @typescript-eslint/no-require-imports */
const core = require('adapterkit');
const node = require('adapterkit/node');
console.log(JSON.stringify({ core: typeof core.Trainer, node: typeof node.saveAdaptersToFile }));
