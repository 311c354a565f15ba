/** What another process needs to use a running sandbox; written to `.breakfix/sandbox.json`. */
export interface SandboxInfo {
  kubeconfig: string;
  apiServerUrl: string;
  adminToken: string;
  redisUrl: string;
  /** The sandbox's working directory (data, logs). */
  dir: string;
  /** Where simulated guests keep their root file systems and sshd configs. */
  guestsDir: string;
  /** The process that runs the sandbox. */
  pid: number;
  /** Every helper process it started, by name. */
  processes: { name: string; pid: number }[];
  /** Path of the kubectl binary built for this sandbox. */
  kubectl?: string;
}
