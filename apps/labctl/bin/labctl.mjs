#!/usr/bin/env node
// Runs labctl from its TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
