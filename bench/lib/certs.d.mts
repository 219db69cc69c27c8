export function selfSigned(
  dir: string,
  label: string,
  names: string[],
  opts?: { atomic?: boolean; combined?: false },
): { cert: string; key: string };
export function selfSigned(
  dir: string,
  label: string,
  names: string[],
  opts: { atomic?: boolean; combined: true },
): { cert: string; key: string; combined: string };
