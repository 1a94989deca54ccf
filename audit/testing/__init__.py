"""Support for the tests, the benchmarks and the example run; never used by the CLI.

`registry` starts a throw-away Debian `docker-registry` on 127.0.0.1 and pushes tiny
images over the distribution API; `build` makes an offline busybox base image; `verify`
helps set up records whose inputs later disappear.
"""
