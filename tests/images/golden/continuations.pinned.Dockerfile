# A comment before the first instruction (not a directive: it ends directive parsing)
# escape=`

FROM \
    # comments inside a continuation are dropped
    python:3.12@sha256:9f39de2cc07aeb65b0c8d87b811d86acce5f86cd7b201b9e906d875b03aa70ff \

    AS base
RUN apt-get update && \
    apt-get install -y curl
   FROM    debian:bookworm-slim@sha256:1022bc06d051d9e7870973e6dc0c0004b399e2aa351e77c11796b918b187e84a   AS   final   
COPY --from=base \
     /usr/local /usr/local
