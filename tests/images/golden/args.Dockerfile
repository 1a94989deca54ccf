# Global ARGs reach every FROM; an ARG after a FROM belongs to that stage only.
ARG BASE=python:3.11-slim
ARG REGISTRY=registry.example.com:5000
ARG APP_TAG
ARG DISTRO="debian"
ARG SUITE='bookworm'
FROM ${BASE} AS build
ARG BASE=node:20
RUN echo $BASE
FROM $REGISTRY/team/app:${APP_TAG:-1.2.3} AS app
FROM ${DISTRO}:${SUITE}-slim
FROM ${BASE}
FROM ${MISSING:-busybox:1.36}
FROM ${REGISTRY:+$REGISTRY/}tools/lint:${APP_TAG-2.0}
