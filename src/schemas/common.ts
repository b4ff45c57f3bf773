import { z } from 'zod';

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';

/** A Kubernetes object name (RFC 1123 subdomain: DNS labels joined by dots), e.g. a node name. */
export const kubeName = z
  .string()
  .min(1, 'must not be empty')
  .max(253, { abort: true })
  .regex(new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`), 'must be a lowercase RFC 1123 name');

/** One DNS label (RFC 1123): what Kubernetes wants for namespaces and container names; our cluster names too. */
export const dnsLabel = z
  .string()
  .min(1, 'must not be empty')
  .max(63, { abort: true })
  .regex(new RegExp(`^${DNS_LABEL}$`), 'must be a lowercase RFC 1123 label (letters, digits and dashes; no dots)');

/** A name that also names a Service, which must be an RFC 1035 label: a DNS label that starts with a letter. */
export const serviceName = dnsLabel.regex(/^[a-z]/, 'must start with a letter (it names a Service)');

export const seconds = (max: number) => z.number().int().positive().max(max);

const PATH_SEGMENT = '[\\w@+][\\w.@+-]*';

/**
 * A file or folder inside a repository: relative, and every segment starts with a letter, digit, `_`, `@` or
 * `+`, so no `.` or `..` segment leads out of the checkout and no leading dash reads as a git option.
 */
export const repoPath = z
  .string()
  .max(1024, { abort: true })
  .regex(new RegExp(`^${PATH_SEGMENT}(/${PATH_SEGMENT})*$`), 'must be a path inside the repository, e.g. base/app.yaml (no leading /, . or .. segments)');

/** An absolute path (in a container, or a folder in Infisical) that stays where it says: no `.` or `..` segments. */
export const absolutePath = (example: string) =>
  z
    .string()
    .max(1024, { abort: true })
    .regex(new RegExp(`^/(${PATH_SEGMENT}(/${PATH_SEGMENT})*)?$`), `must be an absolute path such as ${example} (no . or .. segments)`);

/** A branch, tag or commit as git names them, and never a command-line option. */
export const gitRef = z
  .string()
  .min(1, 'must not be empty')
  .max(255, { abort: true })
  .regex(/^\w[\w./-]*$/, 'must be a branch, tag or commit (letters, digits, _ . - /; starts with a letter or digit)')
  .refine((ref) => !/\.\.|\/\/|[./]$|\.lock(\/|$)/.test(ref), 'must be a branch, tag or commit git accepts (no .., //, trailing . or /)');

/** An image reference: [registry[:port]/]repository[:tag][@sha256:digest]. */
export const containerImage = z
  .string()
  .max(512, { abort: true })
  .regex(
    /^([\w.-]+(:\d+)?\/)?[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*(:\w[\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
    'must be an image reference such as registry.example/nccl-tests:2.18.3',
  );

/** A workflow id as a person or a file gives it: no spaces, quotes or shell characters. */
export const workflowIdInput = z
  .string()
  .min(1, 'must not be empty')
  .max(255, { abort: true })
  .regex(/^\w[\w.:/@+-]*$/, 'must be letters, digits and _ . : / @ + - (no spaces or shell characters)');

/** Free text shown in progress rows and reports: one line, so it cannot forge the lines around it. */
export const oneLine = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, { abort: true })
    .regex(/^[^\p{Cc}]*$/u, 'must be one line of text (no newlines or control characters)');

// Kubernetes label selector syntax (k8s.io/apimachinery labels.Parse): requirements joined by commas.
const LABEL_NAME = '[A-Za-z0-9]([-\\w.]*[A-Za-z0-9])?';
const LABEL_KEY = `(${DNS_LABEL}(\\.${DNS_LABEL})*/)?${LABEL_NAME}`;
const LABEL_VALUE = `(${LABEL_NAME})?`;
const VALUE_SET = `\\( *${LABEL_VALUE}( *, *${LABEL_VALUE})* *\\)`;
const REQUIREMENT = ` *(!${LABEL_KEY}|${LABEL_KEY}( *(==?|!=) *${LABEL_VALUE}| +(in|notin) *${VALUE_SET})?) *`;

/** A Kubernetes label selector such as `feature.node.kubernetes.io/network-sriov.capable=true`. */
export const labelSelector = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, { abort: true })
  .regex(new RegExp(`^${REQUIREMENT}(,${REQUIREMENT})*$`), 'must be a Kubernetes label selector, e.g. disktype=ssd,zone in (a,b)');
