# The gateway as a container: docker build -t redissync-gateway .
# It needs Redis__ConnectionString and, outside Development, at least one API key
# (Auth__Keys__0__Name, __Key or __KeySha256, __Source, __Read__0, __Write__0); see docker-compose.yml.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# The build runs npm: the dashboard's SignalR browser client comes from npm (see RedisSync.Gateway.csproj).
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Restore first, from the files that decide the packages only, so that a code change reuses
# this layer. Only the gateway project is restored: the image needs none of the test packages.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/RedisSync.Gateway/RedisSync.Gateway.csproj src/RedisSync.Gateway/
RUN dotnet restore src/RedisSync.Gateway/RedisSync.Gateway.csproj
# The dashboard's npm packages, likewise from the lock file alone (node_modules never comes from the context).
COPY src/RedisSync.Gateway/package.json src/RedisSync.Gateway/package-lock.json src/RedisSync.Gateway/
RUN cd src/RedisSync.Gateway && npm ci --no-audit --no-fund
# .editorconfig belongs to the build: its analyzer rules are errors (TreatWarningsAsErrors).
COPY .editorconfig ./
COPY src/ src/
RUN dotnet publish src/RedisSync.Gateway/RedisSync.Gateway.csproj -c Release -o /app \
      --no-restore -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# The HEALTHCHECK needs an HTTP client and the aspnet image has neither curl nor wget: curl is
# installed here, as root, before switching to the image's non-root user. (The alternatives were
# a second small program in the image or bash's /dev/tcp; curl is the one everyone can read.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# ASPNETCORE_URLS decides the port; the image's own ASPNETCORE_HTTP_PORTS is cleared so Kestrel
# does not warn that one overrides the other.
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_HTTP_PORTS=
EXPOSE 8080
USER $APP_UID
# Ready = the gateway answers and Redis answers its PING (503 otherwise).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS -o /dev/null http://localhost:8080/health/ready || exit 1
ENTRYPOINT ["dotnet", "RedisSync.Gateway.dll"]
