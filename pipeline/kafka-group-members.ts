import { randomBytes } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { LakehouseError } from '../core/errors.ts';

/**
 * Consumer-group membership of an ingest process: its timings (session, heartbeat, rebalance), and the
 * members that are earlier runs of this host which died without leaving. Nothing here loads kafkajs (the
 * CLI reads the defaults before it knows the source is Kafka); the removal itself is kafka-client.ts's.
 *
 * A process killed with -9 (or by the OOM killer, or a power cut of its container) cannot send LeaveGroup,
 * so the broker keeps it as a member until its session times out. A restarted process that joins
 * meanwhile makes the group rebalance, and a rebalance waits for every known member to rejoin: the dead
 * one never does, so the restart waits out the rest of the dead member's session (or the rebalance
 * timeout, whichever ends first) before it gets any partition.
 *
 * kafkajs 2.2.4 has no static membership (group.instance.id, which lets a restart take over its old
 * membership), so a source names its member instead: its client id ends in `@<host>/<pid>/<token>`
 * (memberClientId). Before it joins, the source looks at the group (DescribeGroups); once its join has
 * reached the group (so that the group never becomes empty, which a broker's group.initial.rebalance.delay.ms
 * would make it wait on), it removes each member that provably belongs to a dead process of this host
 * (deadEarlierRuns) with a LeaveGroup sent on its behalf (kafka-client.ts removeGroupMembers; the broker accepts a LeaveGroup naming any member
 * id, which is how the Java admin's removeMembersFromConsumerGroup removes dynamic members, KIP-571).
 * Provably dead: same host name, the broker saw it connect from one of this host's addresses, and its
 * pid is not a running process here; or its pid is our own, which an earlier run can have in a recycled
 * pid namespace (a restarted container), and its token is none of this process's live sources.
 *
 * This is only about latency. Positions come from the table, and a commit is fenced by the table
 * (pipeline/offsets.ts), never by group membership; removing a member that was in fact alive (a host
 * name and address shared by two machines) costs that member one rebalance: its next heartbeat is
 * refused and kafkajs joins again. A member that cannot be proven dead (another host, a pid that is
 * running, a NAT in between) is left to its session timeout.
 */

export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
export const DEFAULT_REBALANCE_TIMEOUT_MS = 60_000;

export interface GroupTimings {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
}

/**
 * The group timings with their defaults, checked: each a positive whole number of ms, the heartbeat at
 * most a third of the session and of the rebalance timeout. Whether the broker accepts the session
 * timeout is its own setting (group.min/max.session.timeout.ms); the source turns a refusal into a sentence.
 */
export function groupTimings(opts: Partial<GroupTimings>): GroupTimings {
  const sessionTimeoutMs = wholeMs(opts.sessionTimeoutMs, DEFAULT_SESSION_TIMEOUT_MS, 'session timeout', 'sessionTimeoutMs, --session-timeout');
  const heartbeatIntervalMs = wholeMs(opts.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS, 'heartbeat interval', 'heartbeatIntervalMs, --heartbeat-interval');
  const rebalanceTimeoutMs = wholeMs(opts.rebalanceTimeoutMs, DEFAULT_REBALANCE_TIMEOUT_MS, 'rebalance timeout', 'rebalanceTimeoutMs, --rebalance-timeout');
  if (heartbeatIntervalMs * 3 > sessionTimeoutMs) {
    throw new LakehouseError('INVALID_CONFIG', `Kafka heartbeat interval ${heartbeatIntervalMs} ms (heartbeatIntervalMs, --heartbeat-interval) must be at most a third of the session timeout ${sessionTimeoutMs} ms (sessionTimeoutMs, --session-timeout), so that two lost heartbeats do not drop a live member: lower the heartbeat interval or raise the session timeout.`);
  }
  if (heartbeatIntervalMs * 3 > rebalanceTimeoutMs) {
    throw new LakehouseError('INVALID_CONFIG', `Kafka rebalance timeout ${rebalanceTimeoutMs} ms (rebalanceTimeoutMs, --rebalance-timeout) must be at least three heartbeat intervals (${heartbeatIntervalMs} ms, --heartbeat-interval): live members learn of a rebalance at their next heartbeat and would be dropped before they could join again.`);
  }
  return { sessionTimeoutMs, heartbeatIntervalMs, rebalanceTimeoutMs };
}

function wholeMs(value: number | undefined, fallback: number, what: string, names: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new LakehouseError('INVALID_CONFIG', `Kafka ${what} (${names}) must be a positive whole number of milliseconds, got ${String(value)}.`);
  return v;
}

/** Tokens of the sources this process runs now: a member with our pid and one of these is alive. */
const liveTokens = new Set<string>();

export interface MemberIdentity {
  /** The client id to give kafkajs: `<base>@<host>/<pid>/<token>`. */
  clientId: string;
  token: string;
  /** Marks the member as no longer run by this process (after it left the group). */
  release(): void;
}

/** A fresh identity for one consumer of this process, alive until release(). */
export function memberClientId(base: string): MemberIdentity {
  const token = randomBytes(4).toString('hex');
  liveTokens.add(token);
  return { clientId: `${base}@${hostname()}/${process.pid}/${token}`, token, release: () => liveTokens.delete(token) };
}

const MEMBER_CLIENT_ID = /@([^@/]+)\/(\d+)\/([0-9a-f]+)$/;

/** The host, pid and token a client id of memberClientId carries, or null for any other client id. */
export function parseMemberClientId(clientId: string): { host: string; pid: number; token: string } | null {
  const m = MEMBER_CLIENT_ID.exec(clientId);
  return m ? { host: m[1]!, pid: Number(m[2]), token: m[3]! } : null;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  /** As the broker reports it: the peer address, e.g. `/127.0.0.1`. */
  clientHost: string;
}

/** What deadEarlierRuns needs to know about this host; thisHost() gives the real values. */
export interface HostView {
  host: string;
  pid: number;
  addresses: Set<string>;
  liveTokens: ReadonlySet<string>;
  isRunning: (pid: number) => boolean;
}

export function thisHost(): HostView {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) addresses.add(normalizeAddress(a.address));
  return { host: hostname(), pid: process.pid, addresses, liveTokens, isRunning: pidIsRunning };
}

/** The members of a group that are earlier runs of this host whose process is gone (see the file comment). */
export function deadEarlierRuns(members: readonly GroupMember[], here: HostView): GroupMember[] {
  return members.filter((m) => {
    const who = parseMemberClientId(m.clientId);
    if (!who || who.host !== here.host) return false;
    if (!here.addresses.has(normalizeAddress(m.clientHost))) return false;
    if (who.pid === here.pid) return !here.liveTokens.has(who.token);
    return !here.isRunning(who.pid);
  });
}

/**
 * One spelling per address: the broker reports Java's InetAddress text (`/10.0.0.5`, `host/10.0.0.5`,
 * `/fe80:0:0:0:0:0:0:1%eth0`), Node the short forms (`fe80::1`); the WHATWG URL parser writes IPv6 in
 * its one canonical form.
 */
function normalizeAddress(address: string): string {
  let a = address.slice(address.lastIndexOf('/') + 1).replace(/%.*$/, '').toLowerCase();
  a = a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  if (!a.includes(':')) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
}

function pidIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
