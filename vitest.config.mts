import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pulumi's runtime state is process-global: one process per test file.
    pool: "forks",
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
