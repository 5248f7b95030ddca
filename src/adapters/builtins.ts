// Every built-in strategy and adapter kind, imported explicitly so bundlers keep the registrations.
// Strategies first: adapter kinds name them as defaults.
import './strategies/index.js';
import './linear/index.js';
import './attention/index.js';
import './positional/index.js';
import './infused/index.js';
import './parallel/index.js';
import './prefix/index.js';
import './mam/index.js';
import './transformer-hosts.js';
// Tuner methods (PEFT-style wrappers): one line per method folder.
import './lora/index.js';
import './ia3/index.js';
import './vera/index.js';
