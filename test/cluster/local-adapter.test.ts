/** The adapter contract against the single-node LocalAdapter (always runs). */
import { LocalAdapter } from '../../src/cluster/local-adapter.js';
import { runAdapterSuite } from './adapter-suite.js';

runAdapterSuite('LocalAdapter', async () => ({ adapter: new LocalAdapter() }));
