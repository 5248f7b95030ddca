{
  "targets": [
    {
      "target_name": "adapterkit_native",
      "sources": ["adapterkit_native.c"],
      "cflags": ["-O2", "-std=c11", "-Wall"],
      "libraries": ["-ldl"]
    }
  ]
}
