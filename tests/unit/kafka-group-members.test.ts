import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_REBALANCE_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS, type GroupMember, type HostView,
  deadEarlierRuns, groupTimings, memberClientId, parseMemberClientId, thisHost,
} from '../../pipeline/kafka-group-members.ts';

/** Group timings and their checks; which members of a group are provably dead earlier runs of this host. */
describe('groupTimings', () => {
  it('defaults to a 10 s session, 1 s heartbeat and 60 s rebalance timeout', () => {
    expect(groupTimings({})).toEqual({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 60_000 });
    expect([DEFAULT_SESSION_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_REBALANCE_TIMEOUT_MS]).toEqual([10_000, 1_000, 60_000]);
  });

  it('accepts a heartbeat of exactly a third of the session', () => {
    expect(groupTimings({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 2_000 })).toMatchObject({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 2_000 });
  });

  it('refuses a heartbeat above a third of the session with a sentence naming both flags', () => {
    const e = (() => { try { groupTimings({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 2_001 }); } catch (x) { return x; } })();
    expect(e).toBeInstanceOf(LakehouseError);
    expect((e as LakehouseError).code).toBe('INVALID_CONFIG');
    expect((e as Error).message).toMatch(/heartbeat interval 2001 ms .*--heartbeat-interval.* at most a third of the session timeout 6000 ms .*--session-timeout/);
  });

  it('refuses a rebalance timeout shorter than three heartbeats, and values that are not positive whole milliseconds', () => {
    expect(() => groupTimings({ rebalanceTimeoutMs: 2_999 })).toThrow(/rebalance timeout 2999 ms .*--rebalance-timeout.* at least three heartbeat intervals/);
    expect(() => groupTimings({ sessionTimeoutMs: 0 })).toThrow(/session timeout \(sessionTimeoutMs, --session-timeout\) must be a positive whole number of milliseconds, got 0/);
    expect(() => groupTimings({ heartbeatIntervalMs: 1.5 })).toThrow(/--heartbeat-interval/);
  });
});

describe('memberClientId', () => {
  it('names base, host, pid and a token that parseMemberClientId reads back', () => {
    const id = memberClientId('lakehouse');
    try {
      expect(id.clientId).toBe(`lakehouse@${hostname()}/${process.pid}/${id.token}`);
      expect(parseMemberClientId(id.clientId)).toEqual({ host: hostname(), pid: process.pid, token: id.token });
      expect(thisHost().liveTokens.has(id.token)).toBe(true);
    } finally {
      id.release();
    }
    expect(thisHost().liveTokens.has(id.token)).toBe(false);
  });

  it('gives every source its own token', () => {
    const a = memberClientId('x');
    const b = memberClientId('x');
    expect(a.token).not.toBe(b.token);
    a.release();
    b.release();
  });

  it('parseMemberClientId ignores client ids of other programs', () => {
    expect(parseMemberClientId('lakehouse')).toBeNull();
    expect(parseMemberClientId('consumer-1')).toBeNull();
    expect(parseMemberClientId('app@host/12')).toBeNull();
  });
});

describe('deadEarlierRuns', () => {
  const here: HostView = {
    host: 'ingest-1', pid: 500, addresses: new Set(['127.0.0.1', '10.0.0.5', 'fe80::1']), liveTokens: new Set(['beef']),
    isRunning: (pid) => pid === 501,
  };
  const member = (clientId: string, clientHost = '/10.0.0.5'): GroupMember => ({ memberId: `${clientId}-uuid`, clientId, clientHost });

  it('a member of this host whose pid no longer runs is dead', () => {
    expect(deadEarlierRuns([member('lakehouse@ingest-1/777/aa')], here)).toHaveLength(1);
  });

  it('a member whose pid runs here is left alone (another live instance, or a pid reused: not provably dead)', () => {
    expect(deadEarlierRuns([member('lakehouse@ingest-1/501/aa')], here)).toEqual([]);
  });

  it('a member with our own pid is an earlier run (a restarted container) unless its token is one of our live sources', () => {
    expect(deadEarlierRuns([member('lakehouse@ingest-1/500/dead')], here)).toHaveLength(1);
    expect(deadEarlierRuns([member('lakehouse@ingest-1/500/beef')], here)).toEqual([]);
  });

  it('a member of another host name, or seen from an address that is not ours, is left to its session timeout', () => {
    expect(deadEarlierRuns([member('lakehouse@ingest-2/777/aa')], here)).toEqual([]);
    expect(deadEarlierRuns([member('lakehouse@ingest-1/777/aa', '/10.0.0.6')], here)).toEqual([]);
  });

  it('addresses compare as the broker writes them (Java: host name before the slash, long IPv6, zone) and as Node does', () => {
    const dead = (clientHost: string) => deadEarlierRuns([member('lakehouse@ingest-1/777/aa', clientHost)], here).length;
    expect(dead('/::ffff:10.0.0.5')).toBe(1);
    expect(dead('ingest-1.local/10.0.0.5')).toBe(1);
    expect(dead('/fe80:0:0:0:0:0:0:1%eth0')).toBe(1);
    expect(dead('/FE80::1')).toBe(1);
    expect(dead('/fe80:0:0:0:0:0:0:2')).toBe(0);
  });

  it('members of other programs are never touched', () => {
    expect(deadEarlierRuns([member('consumer-1'), member('lakehouse')], here)).toEqual([]);
  });

  it('thisHost sees this process as running and a pid beyond the kernel\'s range as not', () => {
    const h = thisHost();
    expect(h.isRunning(process.pid)).toBe(true);
    expect(h.isRunning(2 ** 30)).toBe(false);
    expect(h.addresses.has('127.0.0.1')).toBe(true);
  });
});
