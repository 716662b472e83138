#!/usr/bin/env node
// Kafka checks for infra/local, using the repo's kafkajs.
//   node infra/local/check-kafka.mjs ready [broker]      exit 0 when the broker answers metadata
//   node infra/local/check-kafka.mjs roundtrip [broker]  create a topic, produce and consume one message
/* global process, console, setTimeout, clearTimeout */
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

const [mode = 'ready', broker = process.env.KAFKA_BROKERS || '127.0.0.1:19092'] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'infra-local-check',
  brokers: broker.split(','),
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2000,
  retry: mode === 'ready' ? { retries: 0 } : { retries: 8 },
});

async function ready() {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

async function roundtrip() {
  const topic = `infra-local-check-${Date.now()}`;
  const payload = `hello ${new Date().toISOString()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  console.log(`created topic ${topic}`);

  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'k', value: payload }] });
  await producer.disconnect();
  console.log(`produced: ${payload}`);

  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 30s')), 30000);
    consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(timer);
        resolve(message.value.toString());
      },
    });
  });
  await consumer.disconnect();
  console.log(`consumed: ${received}`);

  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  if (received !== payload) throw new Error('consumed a different message');
  console.log('kafka roundtrip ok');
}

const modes = { ready, roundtrip };
if (!modes[mode]) {
  console.error(`unknown mode ${mode}; use ready or roundtrip`);
  process.exit(2);
}
modes[mode]().then(
  () => process.exit(0),
  (err) => {
    console.error(`kafka ${mode} check failed: ${err.message}`);
    process.exit(1);
  },
);
