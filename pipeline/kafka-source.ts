import kafkajs, { type Admin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage } from 'kafkajs';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { DEFAULT_CLIENT_ID, type KafkaConnectionOptions, createKafkaClient, kafkaError, positiveInteger, removeGroupMembers, validateBrokers } from './kafka-client.ts';
import { type GroupTimings, type MemberIdentity, deadEarlierRuns, groupTimings, memberClientId, thisHost } from './kafka-group-members.ts';
import { missingTopicError, validateTopicName } from './kafka-topics.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { parsePositionKey } from './offsets.ts';
import { type Positions, type Source, type SourceBatch, type SourceRecord, batchRecords, positionKey } from './source.ts';

/**
 * A Kafka topic as an ingest source (pipeline/source.ts), with kafkajs in a consumer group.
 *
 * The table is the truth, Kafka's group offsets are a copy (they are committed only after the
 * table commit that records the same positions landed):
 * - On start and after every rebalance each assigned partition is sought to the position recorded in the
 *   table: `positionsFor()` when given (asked at each assignment), else what start()'s `resume` and our
 *   commits say. A partition the table has no position for starts at the group's committed offset, else
 *   earliest (`fromBeginning`, the default) or latest.
 * - Before it joins, members of the group that are earlier runs of this host killed without leaving are
 *   removed, so a restart does not wait for their session timeout (pipeline/kafka-group-members.ts).
 * - kafkajs never commits by itself (autoCommit off); `commit()` copies positions to the group only after
 *   the Iceberg commit holding them landed, and only for partitions this member owns *and* read in the
 *   current generation. A zombie whose partitions moved (or were taken back and re-sought) skips its
 *   commit: the table already holds the truth and the partition's owner seeks to it.
 *
 * Batches fetched by kafkajs (eachBatch) wait, as kafkajs made them, in a bounded queue that poll() and
 * pollBatches() drain. When the queue is full, fetching pauses until poll() has taken half of it;
 * Source.pause()/resume() and the wait for a rebalance's positions use the same pause, so the group
 * heartbeat keeps running throughout.
 *
 * A rebalance empties the queue: every partition is sought again, so queued records would come twice.
 * The consumer of this source must likewise drop what it buffered but has not committed (onAssignment
 * tells it when), and its positionsFor() must not answer while one of its commits is in flight, or the
 * seek could land before positions that commit records.
 */
export interface KafkaSourceOptions extends KafkaConnectionOptions {
  topic: string;
  /** Consumer group id. Instances with the same group share the partitions. */
  group: string;
  /** Where a partition starts when neither the table nor the group has an offset for it; default true (earliest). */
  fromBeginning?: boolean;
  /**
   * The table's current positions, asked after every assignment (the first one too) so the seek uses the
   * latest table state. Without it, the positions given to start() and since committed are used, raised
   * after a rebalance to the group's committed offsets (another member may have moved a partition on since
   * we started).
   */
  positionsFor?: () => Promise<Positions>;
  /** Called after each (re)assignment has been sought: drop buffered, uncommitted records of earlier generations. */
  onAssignment?: (assignment: KafkaAssignment) => void;
  /** Queue bound: records (default 20 000) and bytes of keys and values (default 32 MiB). */
  maxQueuedRecords?: number;
  maxQueuedBytes?: number;
  /**
   * Group session timeout: a member that sends no heartbeat for this long is dropped and its partitions
   * move (default 10 000 ms; the broker allows group.min.session.timeout.ms..group.max.session.timeout.ms,
   * 6 s..30 min by default). The heartbeat interval (default 1000 ms) must be at most a third of it, so a
   * member survives two lost heartbeats. A restart on the same host does not wait for the session of its
   * killed predecessor (see pipeline/kafka-group-members.ts); other instances take a dead member's
   * partitions after it.
   */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * How long a rebalance waits for the known members to join again (default 60 000 ms, kafkajs'). A live
   * member rejoins within about a heartbeat; one that does not (its event loop blocked) is dropped and
   * joins afterwards, which costs another rebalance. A member that died without leaving holds a
   * rebalance up to the end of its session or this, whichever comes first. At least three heartbeats.
   */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for data; also the delay before a paused consumer notices resume(). Default 500 ms. */
  maxWaitTimeMs?: number;
  /** How long start() waits for the first partition assignment; default 60 000 ms. */
  startTimeoutMs?: number;
}

export interface KafkaAssignment {
  /** Counts this member's assignments, starting at 1; records read under one are only committed under it. */
  generation: number;
  partitions: number[];
  /** Positions sought to (`<topic>:<partition>` -> next offset); absent partitions start at the group offset. */
  positions: Positions;
}

export interface KafkaCommitResult {
  committed: Positions;
  skipped: Array<{ key: string; position: bigint; reason: string }>;
}

export interface KafkaSource extends Source {
  readonly topic: string;
  readonly group: string;
  pollBatches(max: number, waitMs: number): Promise<SourceBatch[]>;
  /** Current generation (see KafkaAssignment); 0 before the first assignment. */
  readonly generation: number;
  /** Partitions this member owns now. */
  assignment(): number[];
  /** Records and bytes waiting in the queue (fetched, not yet polled). */
  readonly queued: { records: number; bytes: number };
  /**
   * Lag per owned partition (`<topic>:<partition>`): high watermark minus the next offset poll() will
   * return, from the latest fetch (see refreshLag for idle or paused partitions).
   */
  lag(): Map<string, bigint>;
  /** Asks the broker for the high watermarks (one request), then returns lag(). */
  refreshLag(): Promise<Map<string, bigint>>;
  /** commit() with a report of what was committed and what was fenced, and why. */
  commitOffsets(positions: Positions): Promise<KafkaCommitResult>;
  /** Every owned partition sought again to the table's positions, as after an assignment. */
  reseek(): void;
}

/** One kafkajs batch as fetched: its messages are made into records only when a record is asked for. */
interface QueuedBatch {
  partition: number;
  key: string;
  messages: KafkaMessage[];
  values: Array<Buffer | null>;
  /** Index of the next message poll() returns. */
  next: number;
  bytes: number;
}

/** Offsets handed out by poll() in the current generation: from the sought (or first) offset to next. */
interface Delivered {
  from: bigint | null;
  next: bigint | null;
}

/** How long the removal of dead members waits to see our join reach the group before removing them anyway. */
const JOIN_SEEN_WITHIN_MS = 5_000;

/** Queue accounting per record besides key and value: the record object, offset, headers. */
const RECORD_OVERHEAD_BYTES = 128;

export function createKafkaSource(opts: KafkaSourceOptions): KafkaSource {
  return new KafkaJsSource(opts);
}

class KafkaJsSource implements KafkaSource {
  readonly topic: string;
  readonly group: string;
  readonly description: string;
  private readonly brokers: string[];
  private readonly opts: KafkaSourceOptions;
  private readonly log: Logger;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly startTimeoutMs: number;
  private readonly timings: GroupTimings;
  private readonly identity: MemberIdentity;
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly admin: Admin;

  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  private failure?: LakehouseError;
  private epoch = 0;
  /** Bumped by every assignment and revocation; a seek started under an older value is abandoned. */
  private assignmentChanges = 0;
  private assigned = new Set<number>();
  private delivered = new Map<number, Delivered>();
  private highWatermarks = new Map<number, bigint>();
  /** Where kafkajs starts partitions we have no position for (refreshLag); cleared on reassignment. */
  private startOffsets = new Map<number, bigint>();
  /**
   * Per partition with no table position, the first offset kafkajs handed us since the group's last join
   * (where it started: the group's committed offset, else the earliest or latest). A reseek() goes back
   * there, since kafkajs already moved past the records it dropped from the queue and would not fetch them
   * again. A real join starts kafkajs over from the committed offsets, so a join clears it.
   */
  private fetchedFrom = new Map<number, bigint>();
  /** Table positions known to this instance: start()'s resume, raised by our own commits. */
  private known: Positions = new Map();
  private queue: QueuedBatch[] = [];
  private queuedRecords = 0;
  private queuedBytes = 0;
  /** Pause reasons; fetching runs only when none holds. */
  private userPaused = false;
  private full = false;
  private seeking = false;
  private consumerRunning = false;
  private wakers = new Set<() => void>();
  private keys = new Map<number, string>();
  private joined?: { resolve: () => void; reject: (e: unknown) => void };
  private closing?: Promise<void>;
  /** One connect of the admin client for start() and ends(), which may run at the same time. */
  private adminConnected?: Promise<void>;

  constructor(opts: KafkaSourceOptions) {
    this.opts = opts;
    this.brokers = validateBrokers(opts.brokers);
    this.topic = validateTopicName(opts.topic);
    if (typeof opts.group !== 'string' || opts.group.trim() === '') {
      throw new LakehouseError('INVALID_CONFIG', 'Kafka source: a consumer group is required (--group); instances with the same group share the partitions.');
    }
    this.group = opts.group;
    this.description = `kafka:${this.topic}`;
    this.log = (opts.log ?? silentLogger).child({ source: this.description, group: this.group });
    this.maxRecords = positiveInteger(opts.maxQueuedRecords, 20_000, 'maxQueuedRecords');
    this.maxBytes = positiveInteger(opts.maxQueuedBytes, 32 << 20, 'maxQueuedBytes');
    this.startTimeoutMs = positiveInteger(opts.startTimeoutMs, 60_000, 'startTimeoutMs');
    this.timings = groupTimings(opts);
    // The member's client id names this host and process, so a later run can tell it died (kafka-group-members.ts).
    this.identity = memberClientId(opts.clientId ?? DEFAULT_CLIENT_ID);
    this.kafka = createKafkaClient({ ...opts, clientId: this.identity.clientId, log: this.log });
    this.admin = this.kafka.admin();
    this.consumer = this.kafka.consumer({
      groupId: this.group,
      sessionTimeout: this.timings.sessionTimeoutMs,
      heartbeatInterval: this.timings.heartbeatIntervalMs,
      rebalanceTimeout: this.timings.rebalanceTimeoutMs,
      maxWaitTimeInMs: positiveInteger(opts.maxWaitTimeMs, 500, 'maxWaitTimeMs'),
      // A misspelt topic must fail, not be created with the broker's defaults.
      allowAutoTopicCreation: false,
    });
  }

  get generation(): number {
    return this.epoch;
  }

  get queued(): { records: number; bytes: number } {
    return { records: this.queuedRecords, bytes: this.queuedBytes };
  }

  assignment(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  async start(resume: Positions): Promise<void> {
    if (this.state !== 'new') throw new LakehouseError('INVALID_ARGUMENT', `Kafka source ${this.topic}: start() was already called.`);
    this.state = 'starting';
    for (const [k, v] of resume) if (parsePositionKey(k).topic === this.topic) this.known.set(k, v);
    try {
      await this.startConsuming();
    } catch (e) {
      await this.close();
      throw e;
    }
    this.state = 'running';
  }

  private connectAdmin(): Promise<void> {
    this.adminConnected ??= this.admin.connect().catch((e) => {
      this.adminConnected = undefined;
      throw kafkaError('Connecting', this.brokers, e);
    });
    return this.adminConnected;
  }

  async ends(): Promise<Positions> {
    await this.connectAdmin();
    const offsets = await this.admin.fetchTopicOffsets(this.topic).catch((e) => {
      throw kafkaError(`Reading the offsets of ${this.topic}`, this.brokers, e);
    });
    return new Map(offsets.map((o) => [positionKey(this.topic, o.partition), BigInt(o.high)]));
  }

  private async startConsuming(): Promise<void> {
    await this.connectAdmin();
    const topics = await this.admin.listTopics().catch((e) => {
      throw kafkaError('Listing topics', this.brokers, e);
    });
    if (!topics.includes(this.topic)) throw missingTopicError(this.topic, this.brokers);
    const [dead, initialDelayMs] = await Promise.all([this.deadEarlierRuns(), this.initialRebalanceDelayMs()]);

    const joined = new Promise<void>((resolve, reject) => {
      this.joined = { resolve, reject };
    });
    joined.catch(() => {}); // observed below; this only keeps an early rejection from being unhandled
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.onJoin(e.payload.memberAssignment[this.topic] ?? []);
    });
    // The group is about to reassign: what is queued may belong to another member in a moment, and
    // commits must wait for the new assignment.
    this.consumer.on(this.consumer.events.REBALANCING, () => this.revokeAll('rebalancing'));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      const error = this.sessionTimeoutRefused(e.payload.error) ?? kafkaError('Consuming', this.brokers, e.payload.error);
      // kafkajs silently drops commits while its runner is down: own nothing until it has rejoined.
      this.revokeAll('consumer crashed');
      if (e.payload.restart) {
        // kafkajs rejoins by itself; the GROUP_JOIN that follows seeks again.
        this.log.warn('Kafka consumer crashed and restarts', { error: error.message });
      } else {
        this.fail(error);
      }
    });

    await this.consumer.connect().catch((e) => {
      throw kafkaError('Connecting the consumer', this.brokers, e);
    });
    try {
      await this.consumer.subscribe({ topics: [this.topic], fromBeginning: this.opts.fromBeginning ?? true });
      // From here on pause() reaches kafkajs: run() creates the consumer group before its first join.
      this.consumerRunning = true;
      // Removed while our join waits for them, not before it (run() resolves after the join), unless the
      // broker does not delay the first join of an empty group: then before it, which is quicker.
      const removal = dead.length === 0 ? Promise.resolve() : initialDelayMs === 0 ? this.removeDead(dead) : this.removeOnceJoining(dead);
      await this.consumer.run({
        autoCommit: false,
        // Offsets are resolved only for batches that reached the queue: a batch dropped while positions
        // are being sought is fetched again rather than skipped.
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.onBatch(payload),
      });
      await removal;
    } catch (e) {
      throw kafkaError(`Joining group ${this.group} on topic ${this.topic}`, this.brokers, e);
    }
    // A crash kafkajs does not restart from (the broker refused the join) can come before run() returns,
    // and leaves the consumer unusable: say why instead of failing at the next call into it.
    if (this.failure) throw this.failure;
    this.applyPause();

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LakehouseError(
        'IO_ERROR',
        `Kafka source ${this.topic}: no partition assignment from group ${this.group} within ${this.startTimeoutMs} ms; ` +
          `check that the broker at ${this.brokers.join(', ')} is healthy and that no stuck member holds the group (it is released after its session timeout).`,
        { retryable: true },
      )), this.startTimeoutMs);
    });
    try {
      await Promise.race([joined, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The members of the group that are earlier runs of this host killed without leaving (their sessions
   * would hold our join). Best effort: when the group cannot be described, the join just waits as it would have.
   */
  private async deadEarlierRuns(): Promise<Array<{ memberId: string; clientId: string }>> {
    try {
      const { groups } = await this.admin.describeGroups([this.group]);
      return deadEarlierRuns(groups[0]?.members ?? [], thisHost());
    } catch (e) {
      this.log.warn('could not look for group members of earlier runs on this host; joining may wait for their session timeout', {
        sessionTimeoutMs: this.timings.sessionTimeoutMs, error: errorMessage(e),
      });
      return [];
    }
  }

  /**
   * Removes `dead` once our join has started the group's rebalance. Removed before it, the last member
   * would leave an empty group, and a broker delays the first join of an empty group by
   * group.initial.rebalance.delay.ms (3 s by default); removed during it, the rebalance completes as soon
   * as the live members have joined. Best effort, as above: a failure leaves them to their session timeout.
   */
  private async removeOnceJoining(dead: Array<{ memberId: string; clientId: string }>): Promise<void> {
    try {
      const deadline = performance.now() + JOIN_SEEN_WITHIN_MS;
      for (;;) {
        const { groups } = await this.admin.describeGroups([this.group]);
        const state = groups[0]?.state;
        if (state === 'PreparingRebalance' || state === 'CompletingRebalance' || performance.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch (e) {
      this.log.debug('could not watch the group for our join; removing the dead members now', { error: errorMessage(e) });
    }
    await this.removeDead(dead);
  }

  private async removeDead(dead: Array<{ memberId: string; clientId: string }>): Promise<void> {
    try {
      const removed = await removeGroupMembers(this.kafka, this.group, dead.map((m) => m.memberId), this.log);
      this.log.info('removed group members of earlier runs on this host that ended without leaving the group', {
        members: dead.filter((m) => removed.includes(m.memberId)).map((m) => ({ memberId: m.memberId, clientId: m.clientId })),
      });
    } catch (e) {
      this.log.warn('could not remove group members of earlier runs on this host; joining may wait for their session timeout', {
        sessionTimeoutMs: this.timings.sessionTimeoutMs, error: errorMessage(e),
      });
    }
  }

  /**
   * The broker's group.initial.rebalance.delay.ms, or undefined when it cannot be read (no rights to
   * describe broker configs): then it is taken to be Kafka's default, 3 s.
   */
  private async initialRebalanceDelayMs(): Promise<number | undefined> {
    try {
      const { brokers } = await this.admin.describeCluster();
      const broker = brokers[0];
      if (!broker) return undefined;
      const res = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.BROKER, name: String(broker.nodeId), configNames: ['group.initial.rebalance.delay.ms'] }],
      });
      const value = Number(res.resources[0]?.configEntries.find((e) => e.configName === 'group.initial.rebalance.delay.ms')?.configValue);
      return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** The broker's refusal of our session timeout as a sentence naming the setting; undefined for other errors. */
  private sessionTimeoutRefused(e: unknown): LakehouseError | undefined {
    if ((e as { type?: string })?.type !== 'INVALID_SESSION_TIMEOUT') return undefined;
    return new LakehouseError(
      'INVALID_CONFIG',
      `Kafka at ${this.brokers.join(', ')} refused the session timeout of ${this.timings.sessionTimeoutMs} ms (sessionTimeoutMs, --session-timeout) for group ${this.group}: ` +
        'it must lie within the broker\'s group.min.session.timeout.ms and group.max.session.timeout.ms (6 s and 30 min unless the broker sets them otherwise).',
      { cause: e, context: { brokers: this.brokers } },
    );
  }

  /**
   * Our own partitions sought again, as after an assignment: a new generation of ours (Kafka's is
   * unchanged), so positions read before are neither handed out nor committed to the group.
   */
  reseek(): void {
    if (this.state !== 'running') return;
    this.onJoin(this.assignment(), 'reseek');
  }

  /**
   * GROUP_JOIN, emitted synchronously by kafkajs before it fetches for the new assignment: pause, drop
   * the queue, and seek once the positions are known.
   */
  private onJoin(partitions: number[], why = 'group join'): void {
    const generation = ++this.epoch;
    const token = ++this.assignmentChanges;
    const dropped = this.dropQueue();
    this.assigned = new Set(partitions);
    this.delivered.clear();
    this.startOffsets.clear();
    const fetchedFrom = why === 'reseek' ? new Map(this.fetchedFrom) : new Map<number, bigint>();
    this.fetchedFrom.clear();
    this.seeking = true;
    this.applyPause();
    this.log.info('Kafka partitions assigned', { why, generation, partitions, droppedQueuedRecords: dropped });
    this.seekAssigned(token, generation, partitions, fetchedFrom).catch((e) => this.fail(kafkaError('Seeking to the table positions', this.brokers, e)));
  }

  /** Until the next GROUP_JOIN this member owns nothing: no records handed out, no commits. */
  private revokeAll(why: string): void {
    this.assignmentChanges++;
    const dropped = this.dropQueue();
    const partitions = this.assignment();
    this.assigned = new Set();
    this.delivered.clear();
    this.startOffsets.clear();
    this.fetchedFrom.clear();
    this.seeking = true;
    this.log.info('Kafka partitions revoked', { why, generation: this.epoch, partitions, droppedQueuedRecords: dropped });
  }

  private dropQueue(): number {
    const dropped = this.queuedRecords;
    this.queue = [];
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.full = false;
    return dropped;
  }

  private async seekAssigned(token: number, generation: number, partitions: number[], fetchedFrom: Map<number, bigint>): Promise<void> {
    // The first assignment too asks the table when it can: joining may take seconds, and in a group of
    // several instances another member may have committed a partition past start()'s positions by the time
    // it is ours (seeking there would re-read records already in the table, and the commit would be fenced).
    const positions = this.opts.positionsFor
      ? await this.opts.positionsFor()
      : generation === 1 ? new Map(this.known) : await this.knownOrCommitted();
    // Revoked, reassigned or closed while we waited: seeking now could move partitions we do not own.
    if (token !== this.assignmentChanges || this.state === 'closed') return;
    const sought: Positions = new Map();
    for (const partition of partitions) {
      const key = positionKey(this.topic, partition);
      // No table position: where kafkajs started it, if a reseek dropped records of it (see fetchedFrom).
      const tablePosition = positions.get(key);
      const position = tablePosition ?? fetchedFrom.get(partition);
      if (position === undefined) {
        this.delivered.set(partition, { from: null, next: null });
        continue;
      }
      // Still the start kafkajs chose, for the next reseek, until the table records a position.
      if (tablePosition === undefined) this.fetchedFrom.set(partition, position);
      this.consumer.seek({ topic: this.topic, partition, offset: position.toString() });
      this.delivered.set(partition, { from: position, next: position });
      sought.set(key, position);
    }
    this.seeking = false;
    this.applyPause();
    this.log.info('Kafka partitions sought to table positions', { generation, positions: sought });
    this.opts.onAssignment?.({ generation, partitions: [...partitions].sort((a, b) => a - b), positions: sought });
    this.joined?.resolve();
  }

  /** Without positionsFor: what we know, but never behind the group's committed offsets. */
  private async knownOrCommitted(): Promise<Positions> {
    const out: Positions = new Map(this.known);
    const [entry] = await this.admin.fetchOffsets({ groupId: this.group, topics: [this.topic] });
    for (const p of entry?.partitions ?? []) {
      const committed = BigInt(p.offset);
      if (committed < 0n) continue;
      const key = positionKey(this.topic, p.partition);
      const mine = out.get(key);
      if (mine === undefined || committed > mine) out.set(key, committed);
    }
    return out;
  }

  private async onBatch({ batch, resolveOffset, isStale }: EachBatchPayload): Promise<void> {
    const partition = batch.partition;
    // Not resolved, so kafkajs fetches it again: from the sought offset once the seek is applied.
    if (this.state === 'closed' || this.seeking || isStale() || !this.assigned.has(partition)) return;
    this.highWatermarks.set(partition, BigInt(batch.highWatermark));
    const messages = batch.messages;
    const n = messages.length;
    // Fetched before the pause took effect (the rest of a fetch is handed over batch by batch): left
    // unresolved, so kafkajs fetches it again after resume, and the queue stays within one batch of its bound.
    if (n === 0 || this.full) return;
    if (this.delivered.get(partition)?.from === null && !this.fetchedFrom.has(partition)) {
      this.fetchedFrom.set(partition, BigInt(messages[0]!.offset));
    }
    let bytes = n * RECORD_OVERHEAD_BYTES;
    const values = new Array<Buffer | null>(n);
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      values[i] = m.value;
      bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
    }
    this.queue.push({ partition, key: this.partitionKey(partition), messages, values, next: 0, bytes });
    this.queuedRecords += n;
    this.queuedBytes += bytes;
    resolveOffset(messages[n - 1]!.offset);
    if (!this.full && this.queueOverBound()) {
      this.full = true;
      this.applyPause();
    }
    this.wake();
  }

  private queueOverBound(): boolean {
    return this.queuedRecords >= this.maxRecords || this.queuedBytes >= this.maxBytes;
  }


  private partitionKey(partition: number): string {
    let key = this.keys.get(partition);
    if (key === undefined) this.keys.set(partition, key = positionKey(this.topic, partition));
    return key;
  }

  async poll(max: number, waitMs: number): Promise<SourceRecord[]> {
    return batchRecords(await this.pollBatches(max, waitMs));
  }

  async pollBatches(max: number, waitMs: number): Promise<SourceBatch[]> {
    if (this.failure) throw this.failure;
    if (this.state === 'closed') return [];
    if (this.state !== 'running') throw new LakehouseError('INVALID_ARGUMENT', `Kafka source ${this.topic}: call start() before poll().`);
    if (this.queuedRecords === 0 && waitMs > 0) await this.waitForRecords(waitMs);
    if (this.failure) throw this.failure;

    const out: SourceBatch[] = [];
    let taken = 0;
    while (taken < max && this.queue.length > 0) {
      const b = this.queue[0]!;
      const remaining = b.messages.length - b.next;
      const take = Math.min(max - taken, remaining);
      const end = b.next + take;
      // A batch's bytes are given back in proportion to the records taken from it.
      const share = take === remaining ? b.bytes : Math.round((b.bytes * take) / remaining);
      const whole = b.next === 0 && end === b.messages.length;
      out.push(new KafkaBatch(this.topic, b.partition, b.key,
        whole ? b.messages : b.messages.slice(b.next, end), whole ? b.values : b.values.slice(b.next, end)));
      const d = this.delivered.get(b.partition) ?? { from: null, next: null };
      d.from ??= BigInt(b.messages[b.next]!.offset);
      d.next = BigInt(b.messages[end - 1]!.offset) + 1n;
      this.delivered.set(b.partition, d);
      b.next = end;
      b.bytes -= share;
      taken += take;
      this.queuedRecords -= take;
      this.queuedBytes -= share;
      if (b.next === b.messages.length) this.queue.shift();
    }
    if (this.full && this.queuedRecords <= this.maxRecords / 2 && this.queuedBytes <= this.maxBytes / 2) {
      this.full = false;
      this.applyPause();
    }
    return out;
  }

  ended(): boolean {
    return false;
  }

  async commit(positions: Positions): Promise<void> {
    await this.commitOffsets(positions);
  }

  async commitOffsets(positions: Positions): Promise<KafkaCommitResult> {
    const result: KafkaCommitResult = { committed: new Map(), skipped: [] };
    const generation = this.epoch;
    const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const [key, position] of positions) {
      const { topic, partition } = parsePositionKey(key);
      if (topic !== this.topic) continue; // another source's positions
      const reason = this.state !== 'running' ? `the source is ${this.state}` : this.fenceReason(partition, position);
      if (reason) {
        result.skipped.push({ key, position, reason });
        continue;
      }
      offsets.push({ topic, partition, offset: position.toString() });
      result.committed.set(key, position);
    }
    if (offsets.length > 0) {
      try {
        await this.consumer.commitOffsets(offsets);
      } catch (e) {
        if (!isGenerationError(e)) throw kafkaError(`Committing offsets of group ${this.group}`, this.brokers, e);
        // The broker fenced us: the group moved on to a generation this member is not (yet) part of.
        for (const [key, position] of result.committed) {
          result.skipped.push({ key, position, reason: `the broker refused the commit (${errorMessage(e)}): the group is rebalancing` });
        }
        result.committed.clear();
      }
    }
    for (const [key, position] of result.committed) {
      const mine = this.known.get(key);
      if (mine === undefined || position > mine) this.known.set(key, position);
    }
    if (result.skipped.length > 0) {
      this.log.warn('Kafka offsets not committed; the table holds them and the partition owner seeks there', {
        generation, skipped: result.skipped,
      });
    }
    return result;
  }

  /**
   * Why `position` of `partition` must not be committed by this member now, or undefined if it may be:
   * the partition is assigned and the position lies within what poll() handed out in this generation
   * (from the sought position to the next unread offset).
   */
  private fenceReason(partition: number, position: bigint): string | undefined {
    if (!this.assigned.has(partition)) return `partition ${partition} is not assigned to this member (generation ${this.epoch})`;
    const d = this.delivered.get(partition);
    if (!d || d.from === null || d.next === null || position < d.from || position > d.next) {
      const read = d && d.from !== null ? `${d.from}..${d.next}` : 'nothing';
      return `offset ${position} was not read in the current generation ${this.epoch} (read ${read}): the records came from an earlier assignment`;
    }
    return undefined;
  }

  pause(): void {
    this.userPaused = true;
    this.applyPause();
  }

  resume(): void {
    this.userPaused = false;
    this.applyPause();
  }

  lag(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const partition of this.assigned) {
      const hw = this.highWatermarks.get(partition);
      const d = this.delivered.get(partition);
      const position = d?.next ?? d?.from ?? this.startOffsets.get(partition);
      if (hw === undefined || position === undefined) continue;
      out.set(positionKey(this.topic, partition), hw > position ? hw - position : 0n);
    }
    return out;
  }

  async refreshLag(): Promise<Map<string, bigint>> {
    const [offsets, [committed]] = await Promise.all([
      this.admin.fetchTopicOffsets(this.topic),
      this.admin.fetchOffsets({ groupId: this.group, topics: [this.topic] }),
    ]).catch((e) => {
      throw kafkaError(`Reading the offsets of ${this.topic}`, this.brokers, e);
    });
    for (const o of offsets) {
      this.highWatermarks.set(o.partition, BigInt(o.high));
      // A partition read from nowhere yet starts where kafkajs will fetch it: the group's offset, else
      // the earliest or latest one.
      const d = this.delivered.get(o.partition);
      if (d && d.from === null) {
        const c = BigInt(committed?.partitions.find((p) => p.partition === o.partition)?.offset ?? '-1');
        this.startOffsets.set(o.partition, c >= 0n ? c : BigInt((this.opts.fromBeginning ?? true) ? o.low : o.high));
      }
    }
    return this.lag();
  }

  /** Every call waits for the one disconnect: a caller about to exit must not exit before the group was left. */
  close(): Promise<void> {
    return (this.closing ??= this.disconnect());
  }

  private async disconnect(): Promise<void> {
    this.state = 'closed';
    this.wake();
    this.dropQueue();
    this.joined?.reject(new LakehouseError('INVALID_ARGUMENT', `Kafka source ${this.topic} was closed while starting.`));
    // disconnect() stops fetching and leaves the group, so the partitions move at once, not after the
    // session timeout.
    await this.consumer.disconnect().catch((e) => this.log.warn('Kafka consumer disconnect failed', { error: errorMessage(e) }));
    await this.admin.disconnect().catch(() => {});
    this.identity.release();
    this.consumerRunning = false;
  }

  private fail(error: LakehouseError): void {
    this.failure ??= error;
    this.log.error('Kafka source failed', { error: error.message });
    this.joined?.reject(error);
    this.wake();
  }

  /** Fetch only while nothing holds it back: the caller's pause, a full queue, or a seek in progress. */
  private applyPause(): void {
    if (!this.consumerRunning || this.state === 'closed') return;
    const topics = [{ topic: this.topic }];
    if (this.userPaused || this.full || this.seeking) this.consumer.pause(topics);
    else this.consumer.resume(topics);
  }

  private waitForRecords(ms: number): Promise<void> {
    return wakeOrTimeout(this.wakers, ms);
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

/** Resolves when one of `waiters` is called (they all are, by whoever wakes them), or after `ms`. */
function wakeOrTimeout(waiters: Set<() => void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    waiters.add(done);
  });
}

/** Consecutive messages of one partition, as fetched. */
class KafkaBatch implements SourceBatch {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly key: string,
    private readonly messages: KafkaMessage[],
    readonly values: ReadonlyArray<Buffer | null>,
  ) {}

  offset(i: number): bigint {
    return BigInt(this.messages[i]!.offset);
  }

  record(i: number): SourceRecord {
    return toRecord(this.topic, this.partition, this.messages[i]!);
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  const record: SourceRecord = { topic, partition, offset: BigInt(m.offset), value: m.value, key: m.key ?? null };
  const ts = Number(m.timestamp);
  if (Number.isFinite(ts) && ts >= 0) record.timestampMs = ts;
  if (m.headers) {
    let headers: Record<string, string> | undefined;
    for (const [k, v] of Object.entries(m.headers)) {
      if (v === undefined) continue;
      // A repeated header keeps its last value, as most Kafka clients' lastHeader() does.
      const last = Array.isArray(v) ? v[v.length - 1] : v;
      if (last === undefined) continue;
      (headers ??= {})[k] = typeof last === 'string' ? last : last.toString('utf8');
    }
    if (headers) record.headers = headers;
  }
  return record;
}

/** Commit refusals that mean "this member's generation is over", not "Kafka is broken". */
function isGenerationError(e: unknown): boolean {
  for (let cur: unknown = e; cur instanceof Error; cur = (cur as { cause?: unknown }).cause) {
    const type = (cur as { type?: string }).type;
    if (type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID' || type === 'REBALANCE_IN_PROGRESS' || type === 'FENCED_INSTANCE_ID') return true;
  }
  return false;
}
