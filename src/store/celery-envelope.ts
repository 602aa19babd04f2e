/**
 * Celery envelopes as the store sends them to Redis: whole, or as the pieces
 * of their target's template and their own values, which the scripts join
 * (lua/lib/celery-envelope.lua), or joinParts below where no script can run.
 * The templates are made by pool/targets/celery/message-templates.ts.
 */

/**
 * An envelope as the pieces of its target's template and this message's values: the envelope is
 * pieces[0] + body + pieces[1] + idJson + pieces[2] + expiresJson + pieces[3] + idJson +
 * pieces[4] + argsreprJson + pieces[5] + idJson + pieces[6] + deliveryTag + pieces[7]
 * (pool/targets/celery/message-templates.ts makes them; the script joins them the same way). A
 * burst's messages share most of their text: sent whole, it was two thirds of the bytes a
 * hand-off wrote to Redis, and writing them was the node's largest cost.
 */
export interface CeleryEnvelopeParts {
  template: CeleryEnvelopeTemplate;
  body: string;
  /** JSON.stringify(id). */
  idJson: string;
  expiresJson: string;
  argsreprJson: string;
  deliveryTag: string;
}

export interface CeleryEnvelopeTemplate {
  /** Tells templates apart within a call (items of one template are grouped). */
  readonly serial: number;
  /** The 8 pieces of envelope text; the values go between them. */
  readonly pieces: readonly string[];
  /** The pieces joined by "\0" (JSON text: "\0" is escaped in it, so never raw), as the scripts take them. */
  readonly packedPieces: string;
}

/** The envelope: the template's pieces around the message's values (lua/lib/celery-envelope.lua joins them the same way). */
export function joinParts(parts: CeleryEnvelopeParts): string {
  const p = parts.template.pieces;
  const idJson = parts.idJson;
  return p[0] + parts.body + p[1] + idJson + p[2] + parts.expiresJson + p[3] + idJson + p[4] + parts.argsreprJson + p[5] + idJson + p[6] + parts.deliveryTag + p[7];
}
