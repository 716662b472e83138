/** Dev aid: runs the app under --cpu-prof while the pipeline bench's traffic hits it (PROFILE_DIR). */
import { createProcessEnvironment, startAppProcess, waitSettled } from '../test/support/app-process';
import { historyTraffic, offerLoad, percentile, WebhookSender } from '../test/support/webhook-traffic';

async function main() {
  const environment = await createProcessEnvironment({ redisDb: 6 });
  const dir = process.env.PROFILE_DIR ?? '/tmp/prof';
  const app = await startAppProcess(environment, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const sender = new WebhookSender(app.url, environment.env.STRIPE_WEBHOOK_SECRET!.split(',')[0]!);
  const traffic = historyTraffic({
    customers: Number(process.env.PROFILE_CUSTOMERS ?? 600),
    seed: 7,
    tag: 'PR',
    shuffle: false,
  });
  const result = await offerLoad(sender, traffic.deliveries, Number(process.env.PROFILE_RATE ?? 1000));
  console.log(
    `${result.acknowledged}/${result.offered} in ${result.elapsedMs.toFixed(0)} ms; ack p50 ${percentile(result.ackMs, 50).toFixed(1)} p99 ${percentile(result.ackMs, 99).toFixed(1)}`,
  );
  const t = Date.now();
  await waitSettled(environment, app.url, traffic.customerIds, 300_000);
  console.log(`settled ${Date.now() - t} ms after the last ack`);
  sender.close();
  await app.stop();
  await environment.drop();
}
void main();
