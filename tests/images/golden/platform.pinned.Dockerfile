# syntax=docker/dockerfile:1.7
FROM --platform=$BUILDPLATFORM golang:1.22-alpine@sha256:c7a9d8023e8008e18dd6bd9c1940b3a7dccb02b660f2e8060f38e3e7d9ce81ff AS build
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /app .
FROM --platform=linux/arm64 arm64v8/alpine:3.19@sha256:dfd842e774dbb5768e1282b3118107e79d63cdbb12f7c50ef4fecd50f36dcf4e AS arm
FROM --platform=${TARGETPLATFORM} alpine:3.19@sha256:2e41168061e75f7ce2beb4ffcf31ae178a49a67f875a4989e0914c34fe84b3b4
COPY --from=build /app /app
