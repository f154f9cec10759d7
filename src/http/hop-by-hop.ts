/**
 * Hop-by-hop fields (pure), RFC 9110 §7.6.1: "Connection" lists fields that describe one
 * connection only; an intermediary "MUST remove or replace any received connection options
 * before forwarding the message", and the well-known hop-by-hop fields with them. Such fields are
 * neither stored nor passed on to clients.
 */

/** The fields every intermediary drops (RFC 9110 §7.6.1, plus the old Keep-Alive and Proxy-Connection). */
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/** Remove the hop-by-hop fields and every field `Connection` names, in place. */
export function removeHopByHop(headers: Headers): Headers {
  const named = headers.get("connection");
  if (named) for (const name of named.split(",")) if (name.trim()) headers.delete(name.trim());
  for (const name of HOP_BY_HOP) headers.delete(name);
  return headers;
}
