import { accessSync, constants, existsSync } from 'node:fs';
import { InvalidInputError } from '@breakfix/core';

export type Accelerator = 'kvm' | 'tcg';
export type AcceleratorChoice = Accelerator | 'auto';

export interface AcceleratorProbe {
  /** Whether a path exists (e.g. /sys/module/kvm_intel). */
  exists(path: string): boolean;
  /** Whether /dev/kvm can be opened read-write. */
  kvmUsable(): boolean;
}

const realProbe: AcceleratorProbe = {
  exists: existsSync,
  kvmUsable() {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * KVM only when it runs stock guest kernels: /dev/kvm usable and backed by VMX or SVM
 * (kvm_intel / kvm_amd). A /dev/kvm backed by kvm_pvm (Pagetable-based VMs, seen on Firecracker
 * hosts) only runs PVM-patched guest kernels; a stock Debian kernel hangs after "Probing EDD"
 * (notes/real-node-trial.md §0). Everything else gets TCG.
 */
export function chooseAccelerator(choice: AcceleratorChoice, probe: AcceleratorProbe = realProbe): Accelerator {
  if (choice !== 'auto') return choice;
  const hardware = probe.exists('/sys/module/kvm_intel') || probe.exists('/sys/module/kvm_amd');
  if (hardware && !probe.exists('/sys/module/kvm_pvm') && probe.kvmUsable()) return 'kvm';
  return 'tcg';
}

/** Parses BREAKFIX_QEMU_ACCEL (kvm, tcg or auto; unset means auto). */
export function parseAcceleratorChoice(value: string | undefined): AcceleratorChoice {
  if (value === undefined || value === '') return 'auto';
  if (value === 'kvm' || value === 'tcg' || value === 'auto') return value;
  throw new InvalidInputError(`BREAKFIX_QEMU_ACCEL=${value} is not kvm, tcg or auto`);
}

/**
 * QEMU flags per accelerator. Under TCG the `qemu64` model, never `max`: `max` exposes AVX2, which
 * Go's runtime then uses, and emulated AVX2 makes Go programs (kubelet, kubeadm) start 2.4-3x
 * slower (notes/real-node-trial.md §8).
 */
export function acceleratorArgs(accelerator: Accelerator): string[] {
  return accelerator === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'qemu64'];
}
