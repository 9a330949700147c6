# pgwalstreams container image.
#   docker build -t pgwalstreams:dev .
#
# Node.js 24 is an LTS line (until 2028-04-30). The code itself still supports Node >= 20.19, but
# the Node 20 images are end-of-life and frozen. Build and runtime use the same image so that
# node_modules match.
ARG NODE_IMAGE=node:24-trixie-slim

# Build: all dependencies (TypeScript and esbuild included), then compile src/ with tsc and bundle
# it (scripts/bundle.ts) into dist/src/main.js and its chunks in dist/src/chunks/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# --ignore-scripts: `prepare` would run tsc before the sources are here; the build step below runs it.
RUN npm ci --ignore-scripts
COPY src ./src
COPY scripts/bundle.ts ./scripts/
RUN npm run build

# Runtime: production dependencies and the bundle only (tsc's other output in dist/src is not
# loaded by it), owned by root and read-only to the process.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` needs tsc, which is a dev dependency and not installed here.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist/src/main.js /app/dist/src/main.js.map ./dist/src/
COPY --from=build /app/dist/src/chunks ./dist/src/chunks
# The official image's unprivileged `node` user, by number so that Kubernetes' runAsNonRoot can
# verify it.
USER 1000:1000
EXPOSE 8080
# Exec form with node itself as PID 1 (no shell, no npm), so SIGTERM reaches pgwalstreams, which
# drains, confirms its position and exits 0. --max-semi-space-size=16 fixes V8's young generation,
# as the binary's own shebang does, whatever memory the container has.
ENTRYPOINT ["node", "--max-semi-space-size=16", "dist/src/main.js"]
CMD ["--config", "/etc/pgwalstreams/config.yml"]
