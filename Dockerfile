# The lakehouse CLI as an image: what docker-compose.yml's producer, ingest and metrics services run
# (`bin/lakehouse produce|ingest|metrics ...`). Node 20, as package.json's engines and CI use.
#
# Two stages: the first installs every dependency (TypeScript for the build), compiles to dist/ and then
# drops the development packages; the second copies the result onto a clean base, so the image holds the
# compiled CLI and its runtime packages only. The base is pinned to one Node release (and Debian release),
# so a rebuild next month runs the same runtime.
FROM node:20.19.5-bookworm-slim AS build
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20.19.5-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
# Not root: the CLI writes only to the catalog, S3 and Kafka it is pointed at.
USER node
ENTRYPOINT ["bin/lakehouse"]
CMD ["--help"]
