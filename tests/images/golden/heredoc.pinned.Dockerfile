# syntax=docker/dockerfile:1
FROM alpine:3.20@sha256:75be9c490b21b793193f47be0daf1e1ba283c3a002c8e84091e2c871cc49f219 AS base
RUN <<EOT
FROM this-is-not-an-image
echo hello
EOT
COPY <<-EOF /etc/config
	FROM neither-is-this
	EOF
RUN cat <<'A' > /a && cat <<"B" > /b
FROM a
A
FROM b
B
FROM base
FROM busybox:1.36@sha256:d55432289a2f69dad7e00346d00e8d4df4d0053a44dffb3f8cf463f6e3fb4b04
