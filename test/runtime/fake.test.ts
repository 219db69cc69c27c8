import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { runRuntimeContract } from './runtime.contract.js';

runRuntimeContract('fake', async () => {
  const runtime = new FakeRuntime({ serveHttp: true });
  const spec = (env = {}) =>
    serviceSchema.parse({ command: 'fake', env, traffic: { listen: '127.0.0.1:1' }, runtime: 'process' });
  return { runtime, spec, cleanup: () => runtime.close(), crash: (i) => runtime.crash(i.id) };
});
