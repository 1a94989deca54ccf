# escape=`

FROM mcr.microsoft.com/windows/servercore:ltsc2022 `
    AS win
RUN powershell -Command `
    Write-Host "FROM not-an-image"
COPY C:\\src C:\\dst
FROM `
  mcr.microsoft.com/dotnet/runtime:8.0
