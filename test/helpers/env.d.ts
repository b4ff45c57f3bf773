export declare const TEST_ENV: Record<
  | 'kubeconfig'
  | 'temporalAddress'
  | 'testServer'
  | 'temporalCli'
  | 'kubeBin'
  | 'crds'
  | 'bundle'
  | 'victoriaMetrics'
  | 'jaegerOtlp'
  | 'jaegerQuery'
  | 'keycloakUrl'
  | 'keycloakAdmin'
  | 'keycloakLog'
  | 'gitRoot'
  | 'gitUrl'
  | 'externalSecretsLog',
  string
>;
export declare const TEST_LEASE_NAMESPACE: string;
export declare function testEnv(name: keyof typeof TEST_ENV): string;
