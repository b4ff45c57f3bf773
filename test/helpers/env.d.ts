export declare const TEST_ENV: Record<
  'kubeconfig' | 'temporalAddress' | 'testServer' | 'temporalCli' | 'kubeBin' | 'crds' | 'bundle' | 'keycloakUrl' | 'keycloakAdmin' | 'keycloakLog',
  string
>;
export declare function testEnv(name: keyof typeof TEST_ENV): string;
