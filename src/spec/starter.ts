import { formatDuration } from '../core/duration.js';
import { DEFAULTS } from './schema.js';

const d = formatDuration;
const p = DEFAULTS.probe;

/** The commented `baton.yaml` that `baton init` writes. Valid as is; defaults come from `DEFAULTS`. */
export const STARTER_YAML = `# baton.yaml: what Baton deploys and how. Reference: docs/baton-yaml.md
#
# Durations: 500ms, 5s, 2m, 1h, or a number of milliseconds.
# Tags:  !env NAME   !env NAME:-default   !file path   !base64 path   !include path
#        !profile {dev: ..., prod: ..., default: ...}   (the entry named by --profile)
# Override any value from the command line: --set services.hello.replicas=3

# Format version of this file (default: 1).
version: 1

services:
  # One entry per service. Names: lower-case letters, digits and dashes.
  hello:
    # How instances run (default: process, one child process per replica).
    runtime: process
    # The program: a string, or a list taken as argv.
    command: node
    # Its arguments (default: []).
    args: [server.js]
    # Working directory of each instance (default: not set).
    # cwd: ./app
    # Environment variables; values become strings (default: {}).
    env:
      GREETING: hello
      # API_TOKEN: !env API_TOKEN
    # How many instances serve at once (default: ${DEFAULTS.replicas}).
    replicas: 2
    # Health check: exactly one of http, tcp or exec (default: tcp).
    # Traffic reaches an instance only once it has passed.
    probe:
      http:
        path: /          # request path (default: /)
        status: 200      # expected status (default: 200)
        # host: hello.internal   # Host header (default: not set)
      # tcp: {}          # passes when the port accepts a connection
      # exec:            # passes when the command exits with status 0
      #   command: ./healthcheck.sh
      #   args: []
      interval: ${d(p.interval)}           # time between checks (default: ${d(p.interval)})
      timeout: ${d(p.timeout)}            # one check's time limit (default: ${d(p.timeout)})
      healthyThreshold: ${p.healthyThreshold}     # passes in a row to be healthy (default: ${p.healthyThreshold})
      unhealthyThreshold: ${p.unhealthyThreshold}   # failures in a row to be unhealthy (default: ${p.unhealthyThreshold})
      startTimeout: ${d(p.startTimeout)}      # time a new instance has to pass (default: ${d(p.startTimeout)})
    traffic:
      # Where Baton's proxy listens for this service: host:port, unique per port (required).
      listen: 127.0.0.1:8080
      # How long in-flight requests may take to finish before an old instance stops (default: ${d(DEFAULTS.drainTimeout)}).
      drainTimeout: ${d(DEFAULTS.drainTimeout)}
    # How a deploy moves from the old revision to the new one (default: rolling).
    strategy:
      # rolling | replace (whole new set, one switch) | blue-green (preview, promote, instant rollback
      # window) | canary (steps: setWeight / setInstances / pause / check, with automatic analysis).
      # See docs/baton-yaml.md.
      type: rolling
      maxSurge: ${DEFAULTS.maxSurge}            # extra instances during the deploy: a count or a % of replicas (default: ${DEFAULTS.maxSurge})
      maxUnavailable: ${DEFAULTS.maxUnavailable}      # instances that may be missing: a count or a % of replicas (default: ${DEFAULTS.maxUnavailable})
    # Time between SIGTERM and SIGKILL when an instance stops (default: ${d(DEFAULTS.stopTimeout)}).
    stopTimeout: ${d(DEFAULTS.stopTimeout)}
    # Commands or webhooks at points of a deploy (pre-deploy, pre-switch, post-switch, post-deploy,
    # on-rollback); a failing pre-deploy hook stops the deploy before anything changes.
    # hooks:
    #   pre-deploy: { command: ./migrate.sh }
`;
