{
  "targets": [
    {
      "target_name": "zerocopy",
      "sources": ["binding.c", "src/linux.c", "src/job.c", "src/loop.c", "src/zerocopy_send.c", "src/uring.c", "src/probe.c"],
      "include_dirs": ["include"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "cflags!": ["-fno-exceptions"]
    }
  ]
}
