# syntax=docker/dockerfile:1
FROM alpine:3.20 AS base
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
FROM busybox:1.36
