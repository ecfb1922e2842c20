import net from 'node:net';
for (let i = 0; i < 20; i++) {
  const s = net.connect(18080, '127.0.0.1');
  s.on('error', () => {});
  s.once('connect', () => s.resetAndDestroy());
  await new Promise((r) => s.on('close', r));
}
