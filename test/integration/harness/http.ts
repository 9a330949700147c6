/**
 * Reading a service's HTTP server (`listener.serverPort`): one endpoint's status and body, and
 * one metric's value in the text of `/metrics`.
 */

/** Fetches one endpoint of a service's HTTP server. */
export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one metric sample (`name{labels} value`), summed over samples whose labels include `match`. */
export function metric(text: string, name: string, match = ''): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + ' ') && !line.startsWith(name + '{')) continue;
    if (match && !line.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  if (!found) throw new Error(`no sample of ${name}${match ? ` with ${match}` : ''}`);
  return sum;
}
