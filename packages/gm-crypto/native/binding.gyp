{
  "targets": [
    {
      "target_name": "gm_sm2",
      "sources": ["sm2.c", "sm3.c", "sm2_napi.c"],
      "cflags": ["-O3", "-std=gnu11", "-Wall", "-Wextra", "-fno-strict-aliasing"],
      "cflags!": ["-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
