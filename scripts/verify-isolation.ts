// `npm run verify:isolation`: renders 50 labs of mixed topologies and egress modes beside the
// platform namespace and kube-dns, asks np-guard's analyzer what their NetworkPolicies allow,
// and checks breakfix's isolation promises. Last line: "cross-lab connections: N".
import { resolveNca, verifyIsolation } from '@breakfix/isolation';
import { VERIFY_PLATFORM } from './verify-isolation-platform.js';

const report = await verifyIsolation({ platform: VERIFY_PLATFORM, nca: await resolveNca(), labs: 50 });
console.log(
  `analyzed ${report.labs} labs in ${(report.analyzerMs / 1000).toFixed(2)} s (np-guard network-config-analyzer; VMs modelled as their virt-launcher pods)`,
);
for (const line of report.kept) console.log(`  ok    ${line}`);
for (const line of report.violations) console.log(`  FAIL  ${line}`);
for (const line of report.crossLab.slice(0, 20)) console.log(`  LEAK  ${line}`);
if (report.crossLab.length > 20) console.log(`  ... and ${report.crossLab.length - 20} more cross-lab connections`);
console.log(`cross-lab connections: ${report.crossLab.length}`);
process.exitCode = report.crossLab.length === 0 && report.violations.length === 0 ? 0 : 1;
