/**
 * Recipient lists as users keep them in Secrets: CSV with a header line (one column `phone`), or
 * JSON lines with a `phone` field; every other column or string field is a template variable.
 * A number is identified by a keyed hash (the campaign's UID is the key), which is all the
 * progress records keep; the number itself is only ever in memory, and masked when shown.
 */
import { createHmac } from 'node:crypto'
import { e164Pattern, placeholderPattern } from '../api/index.ts'

export interface Recipient {
  /** E.164, as normalised (`+27821234567`). */
  phone: string
  /** Keyed hash of the number: the key of its progress entry. */
  id: string
  variables: Record<string, string>
  /** Where it came from: `Secret "list" key "numbers" line 12` (never the number). */
  where: string
}

export interface MalformedLine {
  where: string
  problem: string
}

export interface ParsedList {
  recipients: Recipient[]
  malformed: MalformedLine[]
}

/** Spaces, dots, dashes and brackets people write inside numbers are dropped; nothing else. */
export function normalisePhone(raw: string): string | undefined {
  const s = raw.trim().replace(/[\s().-]/g, '')
  return e164Pattern.test(s) ? s : undefined
}

export function recipientId(key: string, phone: string): string {
  return createHmac('sha256', key).update(phone).digest().subarray(0, 12).toString('base64url')
}

/** `+27821234567` → `+2782*****67`: country and area code, the last two digits. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/^\+/, '')
  if (digits.length < 7) return '+*****'
  return `+${digits.slice(0, 4)}${'*'.repeat(digits.length - 6)}${digits.slice(-2)}`
}

/** Splits one CSV line (RFC 4180 quotes, no line breaks inside a field). */
export function splitCsvLine(line: string): string[] | undefined {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"'
        i++
      } else if (ch === '"') quoted = false
      else cur += ch
    } else if (ch === '"' && cur === '') quoted = true
    else if (ch === ',') {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  if (quoted) return undefined
  out.push(cur)
  return out
}

/** Parses one list; `where` names the Secret and key. */
export function parseList(text: string, format: 'csv' | 'jsonl', where: string, idKey: string): ParsedList {
  const recipients: Recipient[] = []
  const malformed: MalformedLine[] = []
  const lines = text.split(/\r?\n/)
  let header: string[] | undefined
  let phoneColumn = -1
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.trim() === '') continue
    const at = `${where} line ${i + 1}`
    let phoneRaw: unknown
    const variables: Record<string, string> = {}
    if (format === 'csv') {
      const cells = splitCsvLine(line)
      if (!cells) {
        malformed.push({ where: at, problem: 'unbalanced quotes' })
        continue
      }
      if (!header) {
        header = cells.map((c) => c.trim())
        phoneColumn = header.indexOf('phone')
        if (phoneColumn < 0) {
          malformed.push({ where: at, problem: 'the header has no "phone" column' })
          return { recipients, malformed }
        }
        continue
      }
      phoneRaw = cells[phoneColumn]
      header.forEach((name, j) => {
        if (j !== phoneColumn && name) variables[name] = (cells[j] ?? '').trim()
      })
    } else {
      let obj: unknown
      try {
        obj = JSON.parse(line)
      } catch {
        malformed.push({ where: at, problem: 'not a JSON object' })
        continue
      }
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
        malformed.push({ where: at, problem: 'not a JSON object' })
        continue
      }
      for (const [k, v] of Object.entries(obj)) {
        if (k === 'phone') phoneRaw = v
        else if (typeof v === 'string' || typeof v === 'number') variables[k] = String(v)
      }
    }
    const phone = typeof phoneRaw === 'string' ? normalisePhone(phoneRaw) : undefined
    if (!phone) {
      malformed.push({ where: at, problem: 'the phone number is not in E.164 form (+ and 7 to 15 digits)' })
      continue
    }
    recipients.push({ phone, id: recipientId(idKey, phone), variables, where: at })
  }
  if (format === 'csv' && !header) malformed.push({ where, problem: 'empty: no header line' })
  return { recipients, malformed }
}

/** Fills `{{name}}` placeholders; the names missing from `variables`, if any. */
export function render(
  template: string,
  variables: Readonly<Record<string, string>>,
): { text: string } | { missing: string[] } {
  const missing = new Set<string>()
  const text = template.replace(placeholderPattern, (_m, name: string) => {
    const v = variables[name]
    if (v === undefined || v === '') {
      missing.add(name)
      return ''
    }
    return v
  })
  return missing.size > 0 ? { missing: [...missing] } : { text }
}
