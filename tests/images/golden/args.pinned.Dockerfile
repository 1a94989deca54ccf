# Global ARGs reach every FROM; an ARG after a FROM belongs to that stage only.
ARG BASE=python:3.11-slim@sha256:36d2dc9a2f771249eedd3a45eee6757c6f01de8dd0f67aec77662d5bc40eb123
ARG REGISTRY=registry.example.com:5000
ARG APP_TAG
ARG DISTRO="debian"
ARG SUITE='bookworm'
FROM ${BASE} AS build
ARG BASE=node:20
RUN echo $BASE
FROM $REGISTRY/team/app:${APP_TAG:-1.2.3}@sha256:e90258baaa73bcc35099ed079114b1ba9235baa0288e322dd0585be7366accc5 AS app
FROM ${DISTRO}:${SUITE}-slim@sha256:1022bc06d051d9e7870973e6dc0c0004b399e2aa351e77c11796b918b187e84a
FROM ${BASE}
FROM ${MISSING:-busybox:1.36}@sha256:d55432289a2f69dad7e00346d00e8d4df4d0053a44dffb3f8cf463f6e3fb4b04
FROM ${REGISTRY:+$REGISTRY/}tools/lint:${APP_TAG-2.0}@sha256:1c47deda1d5ba41a5f4e3e8097a24c202e413c6b712672ef12a9fa51dbb4c095
