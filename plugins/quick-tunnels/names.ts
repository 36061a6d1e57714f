// Random, readable hostnames for quick tunnels: `<adjective>-<animal>-<6 random base32 chars>.<zone>`.
import { randomInt } from 'node:crypto';

const ADJECTIVES = ['amber', 'brisk', 'calm', 'dusty', 'eager', 'fuzzy', 'gentle', 'hollow', 'icy', 'jolly', 'keen', 'lucky', 'misty', 'nimble', 'quiet', 'rapid'];
const ANIMALS = ['badger', 'crane', 'dingo', 'ferret', 'gecko', 'heron', 'ibis', 'koala', 'lemur', 'marmot', 'newt', 'otter', 'panda', 'quokka', 'rabbit', 'stoat'];
const SUFFIX_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/** About 2^38 names per zone: guessing one that is live is impractical, and collisions are retried anyway. */
export function quickHostname(zone: string): string {
  const pick = (list: readonly string[]) => list[randomInt(list.length)]!;
  let suffix = '';
  for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}-${suffix}.${zone}`;
}
