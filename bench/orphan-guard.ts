/**
 * Preloaded (`node --import`) into server processes the benchmark starts with an IPC channel:
 * when the runner goes away, however it ended, the server shuts down instead of lingering.
 * The channel is unreferenced, so it never keeps the server alive on its own.
 */
if (process.send) {
  process.channel?.unref();
  process.once('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), 15_000).unref();
  });
}
