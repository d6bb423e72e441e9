/** Test helper: a structural check of generated HTML (balanced tags, no raw "<" in text). */
import assert from "node:assert/strict";

const VOID = new Set(["meta", "input", "br", "img", "hr", "link"]);

/**
 * Checks that every tag is closed in order (void elements and self-closing tags aside), outside
 * <script> and <style> bodies. Returns the tag names seen.
 */
export function checkBalanced(html: string): Map<string, number> {
  const stripped = html
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, "<script></script>")
    .replace(/<style>[\s\S]*?<\/style>/g, "<style></style>");
  const seen = new Map<string, number>();
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g;
  for (const m of stripped.matchAll(re)) {
    const [, close, name, , self] = m;
    const tag = name.toLowerCase();
    if (close) {
      const top = stack.pop();
      assert.equal(top, tag, `</${tag}> closes <${top}>`);
    } else {
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
      if (!self && !VOID.has(tag)) stack.push(tag);
    }
  }
  assert.deepEqual(stack, [], "unclosed tags");
  // No stray angle brackets in text: every "<" starts a tag or a comment/doctype.
  assert.ok(!/<(?![a-zA-Z/!])/.test(stripped), "a raw < in the text");
  return seen;
}
