FROM alpine:3.20 \  
  AS x
FROM "quoted/image:1"
