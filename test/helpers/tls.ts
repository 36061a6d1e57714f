// Certificates for HTTPS origins in tests: a private CA and server certificates it signs (via @peculiar/x509).
import { createCertificateAuthority, issueServerCertificate } from '../../plugins/origin-ca/ca.ts';

export interface OriginCertificates {
  /** The CA's PEM, what `originRequest.caPool` points at. */
  caPem: string;
  /** For `localhost` and 127.0.0.1. */
  localhost: { keyPem: string; certPem: string };
  /** For `origin.internal` only, to exercise `originServerName`. */
  internal: { keyPem: string; certPem: string };
}

export async function originCertificates(): Promise<OriginCertificates> {
  const ca = await createCertificateAuthority({ commonName: 'Burrow test origin CA' });
  const localhost = await issueServerCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const internal = await issueServerCertificate(ca, { commonName: 'origin.internal', dnsNames: ['origin.internal'] });
  return { caPem: ca.certPem, localhost, internal };
}
