# syntax=docker/dockerfile:1.7
FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /app .
FROM --platform=linux/arm64 arm64v8/alpine:3.19 AS arm
FROM --platform=${TARGETPLATFORM} alpine:3.19
COPY --from=build /app /app
