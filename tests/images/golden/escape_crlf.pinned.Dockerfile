# escape=`

FROM mcr.microsoft.com/windows/servercore:ltsc2022@sha256:bc3bc8408e84c12c2b5f24aa91b444894b55e26069b66e8034890634b08aef1d `
    AS win
RUN powershell -Command `
    Write-Host "FROM not-an-image"
COPY C:\\src C:\\dst
FROM `
  mcr.microsoft.com/dotnet/runtime:8.0@sha256:7a73a4fd4760d26b431f10bbdc6c716489d13b717d7a9274ef41c3b26d6f66c8
