import { describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/engine/errors.js';
import { parseDockerfile } from '../../src/engine/build/dockerfile.js';
import type { Instruction } from '../../src/engine/build/instructions.js';
import { expandInstruction, expandWord, expandWords, WordExpansionError } from '../../src/engine/build/shell-words.js';

const vars: Record<string, string> = { PWD: '/home', SHELL: 'bash', EMPTY: '', SPACE: 'abc  def', LEAD: '  ab c', KOREAN: '한국어', A: 'a', B: 'b' };
const lookup = (name: string): string | undefined => vars[name];
const word = (w: string, escape: '\\' | '`' = '\\'): string => expandWord(w, lookup, escape);

const err = (f: () => unknown): WordExpansionError => {
  try {
    f();
  } catch (e) {
    if (e instanceof WordExpansionError) return e;
    throw e;
  }
  throw new Error('did not throw');
};

describe('expandWord (BuildKit ProcessWord)', () => {
  it.each([
    ['$PWD', '/home'],
    ['${PWD}', '/home'],
    ['he$PWD', 'he/home'],
    ['he${PWD}xx', 'he/homexx'],
    ['$PWD.', '/home.'],
    ['$KOREAN!', '한국어!'],
    ['안녕$KOREAN', '안녕한국어'],
  ])('variables: %s → %s', (w, out) => expect(word(w)).toBe(out));

  it('an unset variable is empty; a variable set to "" is set', () => {
    expect(word('[$NOPE]')).toBe('[]');
    expect(word('[${NOPE}]')).toBe('[]');
    expect(word('[${EMPTY-unset}]')).toBe('[]');
    expect(word('[${NOPE-unset}]')).toBe('[unset]');
  });

  it.each([
    ['${NOPE:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${PWD:-def}', '/home'],
    ['${NOPE-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${NOPE:+alt}', ''],
    ['${EMPTY:+alt}', ''],
    ['${PWD:+alt}', 'alt'],
    ['${NOPE+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${PWD?}', '/home'],
    ['${EMPTY?}', ''],
    ['${PWD:?}', '/home'],
  ])('modifiers: %s → %j', (w, out) => expect(word(w)).toBe(out));

  it('nested defaults and alternatives', () => {
    expect(word('${NOPE:-${PWD}}')).toBe('/home');
    expect(word('${NOPE:-${ALSO:-yyy}}')).toBe('yyy');
    expect(word('he${NOPE:-$PWD}xx')).toBe('he/homexx');
    expect(word('${PWD:+${SHELL}}')).toBe('bash');
    expect(word('${PWD:+${PWD}:}')).toBe('/home:');
    expect(word('${NOPE:-"a b"}')).toBe('a b');
    expect(word('${NOPE:-bbb}}')).toBe('bbb}');
  });

  it('${VAR:?message} and ${VAR?message} fail with the message, expanded', () => {
    expect(err(() => word('${NOPE:?}')).message).toBe('failed to process "${NOPE:?}": NOPE: is not allowed to be unset');
    expect(err(() => word('${EMPTY:?}')).reason).toBe('EMPTY: is not allowed to be empty');
    expect(err(() => word('${NOPE?}')).reason).toBe('NOPE: is not allowed to be unset');
    expect(err(() => word('${EMPTY:?set it, $A}')).reason).toBe('EMPTY: set it, a');
    expect(isBerthError(err(() => word('${NOPE:?}')), 'invalid-argument')).toBe(true);
  });

  it('${VAR#glob} ${VAR##glob} ${VAR%glob} ${VAR%%glob}: shortest and longest match at either end', () => {
    const v = (FOO: string, w: string): string => expandWord(w, (n) => (n === 'FOO' ? FOO : n === 'BAR' ? 'x' : undefined));
    expect(v('xxyy', '${FOO#*x*y}')).toBe('y');
    expect(v('xxyy', '${FOO##*x}')).toBe('yy');
    expect(v('xxyy', '${FOO#$BAR}')).toBe('xyy');
    expect(v('a***yy*', '${FOO%%\\**\\*}')).toBe('a');
    expect(v('file.tar.gz', '${FOO%.*}')).toBe('file.tar');
    expect(v('file.tar.gz', '${FOO%%.*}')).toBe('file');
    expect(v('???y', '${FOO#?\\?}')).toBe('?y');
    expect(err(() => v('x', '${FOO:#x}')).reason).toBe('unsupported modifier (:#) in substitution');
  });

  it('${VAR/glob/repl} and ${VAR//glob/repl}', () => {
    const v = (FOO: string, w: string): string => expandWord(w, (n) => ({ FOO, NEEDLE: '/?/', REPL: '/' })[n]);
    expect(v('/tmp/tmp/bar.txt', '${FOO/\\/tmp/} - ${FOO//\\/tmp/}')).toBe('/tmp/bar.txt - /bar.txt');
    expect(v('/a/foo/b/c.txt', '${FOO/$NEEDLE/$REPL} - ${FOO//$NEEDLE/$REPL}')).toBe('/foo/b/c.txt - /foo/c.txt');
    expect(v('/tmp/foo.txt', '${FOO//\\//\\/}')).toBe('\\/tmp\\/foo.txt'); // the replacement keeps its escapes (BuildKit)
    expect(v('xxyy', '${FOO///}')).toBe('xxyy');
    expect(err(() => v('xxyy', '${FOO//ww}')).reason).toBe("syntax error: missing '/' in ${}");
  });

  it('single quotes keep everything, ${VAR} included; double quotes expand', () => {
    expect(word("'${PWD}'")).toBe('${PWD}');
    expect(word("'$PWD'")).toBe('$PWD');
    expect(word("'\\$PWD'")).toBe('\\$PWD');
    expect(word("'hello\\there'")).toBe('hello\\there');
    expect(word('"$PWD"')).toBe('/home');
    expect(word('"he\'$PWD\'"')).toBe("he'/home'");
    expect(word("he'll'o")).toBe('hello');
    expect(word('"\'\'"')).toBe("''");
  });

  it('the escape character: escaped $, escaped quotes, an escaped escape, one at the end', () => {
    expect(word('\\$PWD')).toBe('$PWD');
    expect(word('he\\\\$PWD')).toBe('he\\/home');
    expect(word('"he\\$PWD"')).toBe('he$PWD');
    expect(word('"he\\\\$PWD"')).toBe('he\\/home');
    expect(word("he\\'llo")).toBe("he'llo");
    expect(word('abc\\tdef')).toBe('abctdef'); // outside quotes it escapes anything
    expect(word('"abc\\tdef"')).toBe('abc\\tdef'); // inside double quotes only " $ and itself
    expect(word('hello\\')).toBe('hello');
    expect(word('\\${}')).toBe('${}');
  });

  it('a $ that starts no name stays', () => {
    expect(word('$')).toBe('$');
    expect(word('cost: 5$')).toBe('cost: 5$');
    expect(word('$.')).toBe('$.');
    expect(word('a $ b')).toBe('a $ b');
  });

  it('positional and special parameters are never set', () => {
    expect(word('[$1][${2}][$@][$#][$$][${0:-zero}]')).toBe('[][][][][][zero]');
    expect(word('$999aaa')).toBe('aaa');
  });

  it('with the backtick escape (`# escape=`), a backslash is an ordinary character', () => {
    expect(word('C:\\Windows\\$A', '`')).toBe('C:\\Windows\\a');
    expect(word('`$A', '`')).toBe('$A');
    expect(word('"say `"hi`""', '`')).toBe('say "hi"');
  });

  it.each([
    ['${}', 'syntax error: bad substitution'],
    ['${:-x}', 'syntax error: bad substitution'],
    ['${PWD', "syntax error: missing '}'"],
    ['${PWD:-x', "syntax error: missing '}'"],
    ['${aaa:-bbb ${foo}', "syntax error: missing '}'"],
    ['${PWD:=x}', 'unsupported modifier (:=) in substitution'],
    ['${.}', 'unsupported modifier (.) in substitution'],
    ["it's", 'unexpected end of statement while looking for matching single-quote'],
    ['"open', 'unexpected end of statement while looking for matching double-quote'],
    ['"open\\"', 'unexpected end of statement while looking for matching double-quote'],
  ])('refuses %s: %s', (w, reason) => {
    const e = err(() => word(w));
    expect(e.reason).toBe(reason);
    expect(e.message).toBe(`failed to process ${JSON.stringify(w)}: ${reason}`);
  });
});

describe('expandWords (BuildKit ProcessWords)', () => {
  it.each([
    ['hello there', ['hello', 'there']],
    ['hello\\ there', ['hello there']],
    ['hello" there  "', ['hello there  ']],
    ['hello${SPACE}bye', ['helloabc', 'defbye']],
    ['hello"${SPACE}"bye', ['helloabc  defbye']],
    ['hello${LEAD}def', ['hello', 'ab', 'cdef']],
    ['hello\\" there', ['hello"', 'there']],
    ["hello'\\there'", ['hello\\there']],
    ['a "" b', ['a', 'b']],
    ['  80/tcp   443  ', ['80/tcp', '443']],
    ['a${NOPE:-x y}b', ['ax', 'yb']],
  ])('%j → %j', (w, out) => expect(expandWords(w, lookup)).toEqual(out));

  it('an unbalanced quote is an error', () => {
    expect(err(() => expandWords('hello" there', lookup)).reason).toMatch(/double-quote/);
  });
});

/** The instructions of a Dockerfile, the first being FROM. */
const insts = (text: string): Instruction[] => parseDockerfile(`FROM scratch\n${text}`).instructions.slice(1);
const one = (text: string): Instruction => insts(text)[0]!;
const expand = (text: string, v: Record<string, string> = vars, escape: '\\' | '`' = '\\'): Instruction => expandInstruction(one(text), (n) => v[n], escape);

describe('expandInstruction', () => {
  it('ENV: keys and values, quotes removed; every pair sees the variables from before the line', () => {
    expect(expand('ENV A="x y" B=$A C=${NOPE:-d}\\ e')).toMatchObject({ kind: 'ENV', pairs: [['A', 'x y'], ['B', 'a'], ['C', 'd e']] });
    expect(expand('ENV $B=1')).toMatchObject({ pairs: [['b', '1']] });
    expect(expand('ENV LEGACY  some "quoted  words" $A')).toMatchObject({ pairs: [['LEGACY', 'some quoted  words a']] });
  });

  it('LABEL: keys and values', () => {
    expect(expand('LABEL "com.example.$A"="v $B" plain=\'$A\'')).toMatchObject({ kind: 'LABEL', pairs: [['com.example.a', 'v b'], ['plain', '$A']] });
  });

  it('ARG: the defaults, not the names', () => {
    expect(expand('ARG X=$A Y Z="${B}-1"')).toMatchObject({ kind: 'ARG', args: [{ name: 'X', default: 'a' }, { name: 'Y' }, { name: 'Z', default: 'b-1' }] });
  });

  it('FROM: the image and --platform; an empty result is an error', () => {
    const from = parseDockerfile('ARG V=3.19\nFROM --platform=$P alpine:${V} AS build\n').instructions[1]!;
    expect(expandInstruction(from, (n) => ({ V: '3.19', P: 'linux/386' })[n], '\\')).toMatchObject({ image: 'alpine:3.19', platform: 'linux/386', stageName: 'build' });
    const bare = parseDockerfile('FROM $NOPE\n').instructions[0]!;
    expect(err(() => expandInstruction(bare, lookup, '\\')).reason).toBe('base name ($NOPE) should not be blank');
    const plat = parseDockerfile('FROM --platform=$NOPE alpine\n').instructions[0]!;
    expect(err(() => expandInstruction(plat, lookup, '\\')).reason).toBe('empty platform value from expression $NOPE');
  });

  it('COPY and ADD: sources, destination, --chown, --chmod, --checksum; --exclude stays as written', () => {
    expect(expand('COPY --chown=$A:$B --chmod=${M:-644} --exclude=$A "src-$A" /dst/$B/')).toMatchObject({
      sources: ['src-a'],
      dest: '/dst/b/',
      chown: 'a:b',
      chmod: '644',
      exclude: ['$A'],
    });
    expect(expand('ADD --checksum=sha256:$A https://example.com/$B.tgz /x')).toMatchObject({ checksum: 'sha256:a', sources: ['https://example.com/b.tgz'] });
    expect(expand('COPY ["$A b", "/d"]')).toMatchObject({ sources: ['a b'], dest: '/d' });
  });

  it('COPY --from is not expanded: BuildKit refuses a variable there', () => {
    expect(expand('COPY --from=build /a /b')).toMatchObject({ from: 'build' });
    const e = err(() => expand('COPY --from=$A /a /b'));
    expect(e.reason).toBe('variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround');
    expect(e.line).toBe(2);
  });

  it('COPY heredocs: expanded unless the delimiter was quoted; quotes kept, \\ escapes', () => {
    const copy = expand('COPY <<EOF <<"RAW" /dst/\nHello ${A}! "$B" \'$A\' \\$A \\\\\nEOF\nHello ${A}! \\$A\nRAW\n');
    expect(copy).toMatchObject({
      sources: ['<<EOF', '<<RAW'],
      heredocs: [
        { name: 'EOF', content: 'Hello a! "b" \'a\' $A \\\n', expand: true },
        { name: 'RAW', content: 'Hello ${A}! \\$A\n', expand: false },
      ],
    });
  });

  it('COPY heredocs with the backtick escape still take \\ as the escape character', () => {
    const copy = expandInstruction(parseDockerfile('# escape=`\nFROM x\nCOPY <<EOF /f\n\\$A `$A\nEOF\n').instructions[1]!, lookup, '`');
    expect(copy).toMatchObject({ heredocs: [{ content: '$A `a\n' }] });
  });

  it('EXPOSE: each word, split again', () => {
    expect(expand('EXPOSE $PORTS 9000/udp', { PORTS: '80  443/tcp' })).toMatchObject({ ports: ['80', '443/tcp', '9000/udp'] });
  });

  it('VOLUME, USER, WORKDIR, STOPSIGNAL: one word each, never split', () => {
    expect(expand('VOLUME $SPACE')).toMatchObject({ paths: ['abc  def'] });
    expect(expand('VOLUME ["/data/$A", "/b c"]')).toMatchObject({ paths: ['/data/a', '/b c'] });
    expect(expand('USER ${A}:$B')).toMatchObject({ user: 'a:b' });
    expect(expand('WORKDIR /srv/$SPACE')).toMatchObject({ path: '/srv/abc  def' });
    expect(expand('STOPSIGNAL SIG${SIG:-TERM}')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD are left to the shell (RUN heredocs too)', () => {
    for (const text of ['RUN echo $A', 'RUN ["echo", "$A"]', 'RUN --mount=type=cache,target=/$A cat <<EOF\n$A\nEOF\n', 'CMD echo $A', 'ENTRYPOINT ["$A"]', 'SHELL ["/bin/$A", "-c"]', 'HEALTHCHECK CMD test $A', 'ONBUILD COPY $A /b', 'MAINTAINER $A']) {
      const inst = one(text);
      expect(expandInstruction(inst, lookup, '\\')).toBe(inst);
    }
  });

  it('uses the Dockerfile escape character', () => {
    expect(expand('WORKDIR C:\\dir\\$A', vars, '`')).toMatchObject({ path: 'C:\\dir\\a' });
    expect(expand('WORKDIR C:\\dir\\$A', vars, '\\')).toMatchObject({ path: 'C:dir$A' });
  });

  it('errors carry the instruction line', () => {
    const inst = insts('ENV A=b\nWORKDIR ${X:?needed}')[1]!;
    const e = err(() => expandInstruction(inst, lookup, '\\'));
    expect(e.line).toBe(3);
    expect(e.message).toBe('dockerfile line 3: failed to process "${X:?needed}": X: needed');
  });
});
