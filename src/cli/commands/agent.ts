import type { Command } from 'commander';
import { startAgent } from '../../agent/start.js';
import { parseDuration } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { listenMetrics, parseMetricsListen } from '../../metrics/metrics-server.js';
import { checkToken } from '../../store/check.js';
import { natsAuthFromEnv } from '../../store/nats/connect.js';
import { action, globals } from '../context.js';
import { natsOption, natsServers } from './cluster-common.js';

interface AgentFlags {
  nats?: string;
  natsCreds?: string;
  natsTlsCa?: string;
  node: string;
  ttl: string;
  listenOffset: string;
  metricsListen?: string;
}

export function registerAgent(program: Command): void {
  natsOption(
    program
      .command('agent')
      .description('cluster mode: run this node’s instances from the desired state in NATS (one per node)')
      .requiredOption('--node <name>', 'this node’s name (letters, digits, - and _)')
      .option(
        '--ttl <duration>',
        'registration and node status TTL when this agent creates the buckets',
        '60s',
      )
      .option('--listen-offset <n>', 'added to every traffic.listen port (several agents on one host)', '0')
      .option('--metrics-listen <host:port>', 'serve GET /metrics here, without a token (private networks)'),
  ).action(
    action(async (opts: AgentFlags, cmd: Command) => {
      checkToken(opts.node, 'node name');
      const ttlMs = parseDuration(opts.ttl);
      if (ttlMs === undefined || ttlMs < 1000)
        throw new InputError(`--ttl must be a duration of 1s or more, not ${opts.ttl}`);
      const listenOffset = Number(opts.listenOffset);
      if (!Number.isInteger(listenOffset) || listenOffset < 0)
        throw new InputError('--listen-offset must be a whole number');
      const metricsListen =
        opts.metricsListen === undefined
          ? undefined
          : parseMetricsListen('--metrics-listen', opts.metricsListen);
      const logger = createLogger('baton-agent');
      const agent = await startAgent({
        nats: natsServers(opts),
        natsAuth: natsAuthFromEnv(opts),
        node: opts.node,
        dataDir: globals(cmd).dataDir,
        logger,
        ttlMs,
        listenOffset,
      });
      const metrics = metricsListen && (await listenMetrics(agent.metrics.scrape, metricsListen, logger));
      logger.info({ node: opts.node, pid: process.pid }, 'agent running');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      if (metrics) await metrics.close();
      await agent.stop();
      return 0;
    }),
  );
}
