{
  "targets": [
    {
      "target_name": "adapterkit_native",
      "sources": ["adapterkit_native.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-ffast-math"],
      "libraries": ["-ldl", "-lm"]
    }
  ]
}
