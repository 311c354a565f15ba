import type { PlatformConfig } from './spec.js';

/**
 * The instance an install calls itself when its platform config names none: the same word as the
 * default Redis key and queue prefix, so a single install needs no new setting. docs/adr/0029.
 */
export const DEFAULT_INSTANCE = 'breakfix';

/** Instance names become label values: a DNS label (RFC 1123), so also a valid namespace or Redis key part. */
export const INSTANCE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The label keys the lab labels below use (a subset of LABELS, kept here so this file stands alone). */
const LAB = 'breakfix.dev/lab';
const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const INSTANCE_LABEL = 'breakfix.dev/instance';

/**
 * The labels every object of a lab carries, and the lab's `ssh` Service too: which lab, that
 * breakfix made it, and which install (instance) owns it. Reconcilers select on them.
 */
export function labLabels(labId: string, platform: Pick<PlatformConfig, 'instance'>): Record<string, string> {
  return { [LAB]: labId, [MANAGED_BY]: 'breakfix', [INSTANCE_LABEL]: platform.instance };
}

export interface InstanceOwnership {
  /** This install's instance name. */
  instance: string;
  /**
   * Also own lab objects without an instance label (made before the label existed). Default:
   * only the default instance does, so upgrading an install that never named itself loses
   * nothing, and an install with its own name never touches another's old labs.
   */
  adoptUnlabelled?: boolean;
}

/** Whether a lab object (by its labels) belongs to this install: only then may it be deleted, adopted or freed. */
export function isOwnLab(labels: Readonly<Record<string, string>> | undefined, owner: InstanceOwnership): boolean {
  const instance = labels?.[INSTANCE_LABEL];
  if (instance !== undefined) return instance === owner.instance;
  return owner.adoptUnlabelled ?? owner.instance === DEFAULT_INSTANCE;
}
