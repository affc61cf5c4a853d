# syntax=docker/dockerfile:1
#
# One image for both Switchboard commands: `switchboard controller` (the default) and
# `switchboard webhooks`. The image holds one thing: the production bundle (hack/ship/bundle.ts),
# Switchboard's sources and the libraries they use as one minified ES module plus the chunks it
# loads lazily, built in the `build` stage. No node_modules, no .ts sources: Node reads one module
# instead of about two thousand, which starts faster and holds less memory (bench/README.md).
#
#   docker build -t switchboard .                      # the image the Helm chart runs
#   docker build --target sandbox -t switchboard-sandbox .   # the provider sandbox, for make kind-e2e
#
# The image runs as a numeric non-root user, needs no writable path but /tmp (mount an emptyDir
# there; the chart does), and runs Node as PID 1: both commands handle SIGTERM themselves (stop
# taking work, finish what runs, release the leader Lease, exit 0), and neither starts child
# processes, so there are no zombies to reap and no init process is needed.
# hack/ship/check-image.sh reproduces this build without Docker and runs the result.

ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only, for the sandbox image below. `npm install` with the committed lock
# rather than `npm ci`: the lock omits other platforms' optional binaries (see hack/setup.sh), which
# `npm ci` refuses; with a lock present `npm install` installs exactly the locked versions. No
# dependency has an install script. Source maps and type declarations are dropped: Node needs
# neither at run time, and they are almost half of node_modules (mostly @kubernetes/client-node's).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# The bundle: every locked dependency (the bundler, rolldown, is a devDependency; its native binary
# is the registry package @rolldown/binding-<platform>, with no install script), the sources, then
# hack/ship/bundle.ts. Only /app/dist goes into the image.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm install --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY bin ./bin
COPY controller ./controller
COPY connectors ./connectors
COPY crds ./crds
COPY webhooks ./webhooks
COPY hack/ship/bundle.ts ./hack/ship/bundle.ts
RUN node hack/ship/bundle.ts --out-dir dist

# The provider sandbox (test/sandbox) for the kind end-to-end test; never shipped to users.
FROM ${NODE_IMAGE} AS sandbox
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY connectors ./connectors
COPY test/sandbox ./test/sandbox
COPY hack/ship/e2e/sandbox-server.ts ./hack/ship/e2e/sandbox-server.ts
USER 65532:65532
EXPOSE 8600
ENTRYPOINT ["node", "hack/ship/e2e/sandbox-server.ts"]

# The image users run (the last stage, so the default target).
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="switchboard" \
      org.opencontainers.image.description="Kubernetes operator that connects a platform to the third-party services it depends on" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# HOME=/tmp: nothing under it is read unless a user mounts a kubeconfig there; in a pod the
# client uses the service account. NODE_ENV=production for the libraries that read it.
# --max-semi-space-size=4: V8's young generation capped at 4 MiB per semi-space; measured in
# bench/README.md: a third less resident memory with 1,000 Destinations, no more CPU.
# --expose-gc: the controller collects its heap once when a burst of reconciles is over
# (controller/runtime/heap.ts); V8 alone does not while the process allocates nothing.
# NODE_COMPILE_CACHE: compiled modules kept in /tmp (the pod's emptyDir), so a restarted
# container (after a lost lease, say) starts faster; Node carries on without it if /tmp is absent.
# GLIBC_TUNABLES: every malloc block of 32 KiB or more gets a mapping of its own, returned to the
# system when freed. V8's parser and compiler zones are such blocks; glibc's default keeps them in
# its heap after start-up, fragmented. Measured in bench/README.md: about 30 MiB less resident
# memory with 1,000 Destinations, for the same CPU within the runs' spread.
ENV NODE_ENV=production \
    HOME=/tmp \
    NODE_OPTIONS="--max-semi-space-size=4 --expose-gc" \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32768
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080 9443
ENTRYPOINT ["node", "dist/switchboard.mjs"]
CMD ["controller"]
