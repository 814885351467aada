import { describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/engine/errors.js';
import { DockerfileParseError, parseDockerfile, parseGoDuration } from '../../src/engine/build/dockerfile.js';
import type { Instruction } from '../../src/engine/build/instructions.js';

/** The instructions after a first `FROM scratch`. */
const after = (text: string): Instruction[] => parseDockerfile(`FROM scratch\n${text}`).instructions.slice(1);
const one = (text: string): Instruction => after(text)[0]!;

const parseError = (source: string | Uint8Array): DockerfileParseError => {
  try {
    parseDockerfile(source);
  } catch (e) {
    if (e instanceof DockerfileParseError) return e;
    throw e;
  }
  throw new Error('parsed');
};
/** The error for a Dockerfile whose first line is `FROM scratch`. */
const refuses = (text: string): string => parseError(`FROM scratch\n${text}`).message;

describe('parseDockerfile: layout', () => {
  it('instructions with their lines and how Docker prints them', () => {
    const f = parseDockerfile('# a comment\n\nfrom alpine:3.19\n  run   echo hi\nCMD ["sh"]\n');
    expect(f.escape).toBe('\\');
    expect(f.warnings).toEqual([]);
    expect(f.instructions).toEqual([
      { line: 3, original: 'FROM alpine:3.19', flags: [], kind: 'FROM', image: 'alpine:3.19' },
      { line: 4, original: 'RUN   echo hi', flags: [], kind: 'RUN', command: { shell: 'echo hi' }, heredocs: [], mounts: [] },
      { line: 5, original: 'CMD ["sh"]', flags: [], kind: 'CMD', command: { exec: ['sh'] } },
    ]);
  });

  it('keywords are case-insensitive', () => {
    const f = parseDockerfile('From a\nrUn x\nworkdir /w\nHealthCheck none\n');
    expect(f.instructions.map((i) => i.kind)).toEqual(['FROM', 'RUN', 'WORKDIR', 'HEALTHCHECK']);
    expect(f.instructions[1]!.original).toBe('RUN x');
  });

  it('comments: whole lines only, also inside a continuation; # later in a line is an argument', () => {
    const [run, label] = after('  # indented comment\nRUN echo a \\\n  # inside\n  && echo b # not a comment\nLABEL x=y#z\n');
    expect(run).toMatchObject({ line: 3, command: { shell: 'echo a   && echo b # not a comment' } });
    expect(label).toMatchObject({ line: 6, pairs: [['x', 'y#z']] });
  });

  it('line continuations: the escape character at the end (blanks after it allowed); an escaped escape ends the line', () => {
    expect(one('RUN a \\  \n  b\\\n c')).toMatchObject({ command: { shell: 'a   b c' }, original: 'RUN a   b c' });
    expect(after('RUN echo \\\\\nRUN next')).toMatchObject([{ command: { shell: 'echo \\\\' } }, { kind: 'RUN', line: 3 }]);
    expect(one('RUN \\\n\\\necho')).toMatchObject({ command: { shell: 'echo' } });
    // A continuation open at the end of the file ends there.
    expect(one('RUN echo a \\')).toMatchObject({ command: { shell: 'echo a' } });
  });

  it('empty lines inside a continuation are skipped with a warning (BuildKit NoEmptyContinuation)', () => {
    const f = parseDockerfile('FROM a\nRUN echo a \\\n\n   \n  b\n');
    expect(f.instructions[1]).toMatchObject({ command: { shell: 'echo a   b' } });
    expect(f.warnings).toEqual([{ line: 5, message: 'NoEmptyContinuation: Empty continuation line' }]);
  });

  it('CRLF line endings and a byte order mark', () => {
    const f = parseDockerfile('\uFEFF# escape=`\r\nFROM a\r\nRUN echo `\r\n  b\r\nRUN <<EOF\r\nx\r\nEOF\r\n');
    expect(f.escape).toBe('`');
    expect(f.instructions[1]).toMatchObject({ command: { shell: 'echo   b' } });
    expect(f.instructions[2]).toMatchObject({ heredocs: [{ name: 'EOF', content: 'x\r\n' }] });
  });

  it('refuses a file with no instructions', () => {
    expect(parseError('').message).toBe('file with no instructions');
    expect(parseError('# just\n\n# comments\n').message).toBe('dockerfile parse error on line 3: file with no instructions');
    expect(parseError('# escape=`\n').reason).toBe('file with no instructions');
  });

  it('errors carry the line and BuildKit’s reason, and are invalid-argument BerthErrors', () => {
    const e = parseError('FROM a\n\nBOGUS bar\n');
    expect(e.line).toBe(3);
    expect(e.reason).toBe('unknown instruction: BOGUS');
    expect(e.message).toBe('dockerfile parse error on line 3: unknown instruction: BOGUS');
    // BuildKit suggests a keyword less than 3 edits away.
    expect(parseError('FROM a\nFOO bar\n').message).toBe('dockerfile parse error on line 2: unknown instruction: FOO (did you mean FROM?)');
    expect(isBerthError(e, 'invalid-argument')).toBe(true);
  });

  it('unknown instructions, with BuildKit’s suggestion', () => {
    expect(refuses('FORM alpine')).toBe('dockerfile parse error on line 2: unknown instruction: FORM (did you mean FROM?)');
    expect(refuses('runn x')).toBe('dockerfile parse error on line 2: unknown instruction: runn (did you mean run?)');
    expect(refuses('frobnicate x')).toBe('dockerfile parse error on line 2: unknown instruction: frobnicate');
  });

  it('reads every line before checking instructions (BuildKit’s order): a later unterminated heredoc wins', () => {
    expect(refuses('FOO\nRUN <<EOF\nnever ends\n')).toBe('dockerfile parse error on line 3: unterminated heredoc');
  });
});

describe('parseDockerfile: parser directives', () => {
  it('# escape=` : the backtick continues lines and escapes; a backslash is an ordinary character', () => {
    const f = parseDockerfile('# escape=`\nFROM mcr.microsoft.com/windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  /b\n');
    expect(f.escape).toBe('`');
    expect(f.instructions[1]).toMatchObject({ sources: ['testfile.txt'], dest: 'c:\\' });
    expect(f.instructions[2]).toMatchObject({ command: { shell: 'dir c:\\   /b' } });
  });

  it('# escape=\\ , spaces and case as BuildKit allows them', () => {
    expect(parseDockerfile('#ESCAPE = \\\nFROM a\n').escape).toBe('\\');
    expect(parseDockerfile('  #  escape=`\nFROM a\n').escape).toBe('`');
  });

  it('# syntax= is accepted and reported as ignored; # check= is ignored', () => {
    const f = parseDockerfile('# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended;error=true\n# escape=`\nFROM a\n');
    expect(f.escape).toBe('`');
    expect(f.warnings).toEqual([{ line: 1, message: 'The "# syntax=docker/dockerfile:1.7" directive is ignored: Berth builds with its own Dockerfile frontend' }]);
  });

  it('directives count only before any comment, blank line or instruction', () => {
    expect(parseDockerfile('# a comment\n# escape=`\nFROM a\n').escape).toBe('\\');
    expect(parseDockerfile('\n# escape=`\nFROM a\n').escape).toBe('\\');
    expect(parseDockerfile('# unknown=directive\n# escape=`\nFROM a\n').escape).toBe('\\');
    expect(parseDockerfile('FROM a\n# escape=`\nRUN x\n').escape).toBe('\\');
  });

  it('refuses a repeated directive and an escape that is neither \\ nor `', () => {
    expect(parseError('# escape=`\n# escape=\\\nFROM a\n').message).toBe('dockerfile parse error on line 2: only one escape parser directive can be used');
    expect(parseError('# syntax=a\n# SYNTAX=b\nFROM a\n').reason).toBe('only one syntax parser directive can be used');
    expect(parseError('# escape=x\nFROM a\n').message).toBe("dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\");
  });
});

describe('parseDockerfile: exec form and shell form', () => {
  it('a JSON array of strings is the exec form; anything that is not JSON is the shell form', () => {
    expect(one('CMD ["echo", "a b"]')).toMatchObject({ command: { exec: ['echo', 'a b'] } });
    expect(one('ENTRYPOINT  [ "/bin/sh" , "-c" ]  ')).toMatchObject({ command: { exec: ['/bin/sh', '-c'] } });
    expect(one('CMD []')).toMatchObject({ command: { exec: [] } });
    expect(one('CMD ["\\u00e9t\\u00e9", "tab\\there"]')).toMatchObject({ command: { exec: ['été', 'tab\there'] } });
    expect(one('CMD [echo, hi]')).toMatchObject({ command: { shell: '[echo, hi]' } });
    expect(one("CMD ['echo', 'hi']")).toMatchObject({ command: { shell: "['echo', 'hi']" } });
    expect(one('CMD ["echo", "hi"] extra')).toMatchObject({ command: { shell: '["echo", "hi"] extra' } });
    expect(one('RUN ["unterminated"')).toMatchObject({ command: { shell: '["unterminated"' } });
    expect(one('RUN echo hi')).toMatchObject({ command: { shell: 'echo hi' } });
    expect(one('RUN')).toMatchObject({ command: { shell: '' } });
  });

  it('refuses a JSON array holding anything but strings', () => {
    expect(refuses('CMD ["echo", 1]')).toBe('dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only');
    expect(refuses('COPY ["a", null]')).toMatch(/arrays must be comprised of strings only/);
  });

  it('the exec form continues over lines too', () => {
    expect(one('CMD ["a", \\\n     "b"]')).toMatchObject({ command: { exec: ['a', 'b'] } });
  });
});

describe('parseDockerfile: heredocs', () => {
  it('RUN <<EOF: the body, lines joined with \\n and ending with one', () => {
    const [run, next] = after('RUN <<EOF\napt-get update\n  apt-get install -y curl\nEOF\nUSER nobody\n');
    expect(run).toMatchObject({ line: 2, original: 'RUN <<EOF', command: { shell: '<<EOF' }, heredocs: [{ name: 'EOF', content: 'apt-get update\n  apt-get install -y curl\n', expand: true }] });
    expect(next).toMatchObject({ kind: 'USER', line: 6 });
  });

  it('RUN python3 <<EOF, and a heredoc redirected in a command', () => {
    expect(one('RUN python3 <<EOF\nprint("hi")\nEOF')).toMatchObject({ command: { shell: 'python3 <<EOF' }, heredocs: [{ name: 'EOF', content: 'print("hi")\n' }] });
    expect(one('RUN cat <<EOF > /etc/motd\nhello\nEOF')).toMatchObject({ command: { shell: 'cat <<EOF > /etc/motd' }, heredocs: [{ name: 'EOF', content: 'hello\n' }] });
    expect(one('RUN cat << EOF\nspaced marker\nEOF')).toMatchObject({ heredocs: [{ name: 'EOF', content: 'spaced marker\n' }] });
  });

  it('<<-EOF strips leading tabs from the body and the terminator', () => {
    expect(one('RUN <<-EOF\n\t\techo a\n\t  b\n\tEOF\n')).toMatchObject({ heredocs: [{ name: 'EOF', content: 'echo a\n  b\n' }] });
    // Without the dash a tab-indented terminator is body.
    expect(one('RUN <<EOF\n\tEOF\nEOF\n')).toMatchObject({ heredocs: [{ content: '\tEOF\n' }] });
  });

  it('a quoted delimiter turns expansion off', () => {
    expect(one("RUN <<'EOF'\n$A\nEOF")).toMatchObject({ heredocs: [{ name: 'EOF', expand: false }] });
    expect(one('RUN <<"EOF"\n$A\nEOF')).toMatchObject({ heredocs: [{ name: 'EOF', expand: false }] });
    expect(one('RUN <<E"O"F\n$A\nEOF')).toMatchObject({ heredocs: [{ name: 'EOF', expand: false }] });
    expect(one('RUN <<-"EOF"\n\t$A\n\tEOF')).toMatchObject({ heredocs: [{ name: 'EOF', expand: false, content: '$A\n' }] });
  });

  it('several heredocs on one line, read one after the other', () => {
    const [run, cmd] = after('RUN <<FILE1 cat > /f1 && <<FILE2 cat > /f2\none\nFILE1\ntwo\nFILE2\nCMD x\n');
    expect(run).toMatchObject({
      heredocs: [
        { name: 'FILE1', content: 'one\n' },
        { name: 'FILE2', content: 'two\n' },
      ],
    });
    expect(cmd).toMatchObject({ line: 7 });
  });

  it('COPY <<EOF /dest: heredoc sources are <<NAME, their bodies in heredocs', () => {
    expect(one('COPY <<EOF /etc/motd\nhello $USER\nEOF')).toMatchObject({ kind: 'COPY', sources: ['<<EOF'], dest: '/etc/motd', heredocs: [{ name: 'EOF', content: 'hello $USER\n', expand: true }] });
    expect(one('COPY --chmod=755 <<-"A" plain.txt <<B /dst/\n\tone\n\tA\n\ttwo\nB\n')).toMatchObject({
      sources: ['<<A', 'plain.txt', '<<B'],
      dest: '/dst/',
      chmod: '755',
      heredocs: [
        { name: 'A', content: 'one\n', expand: false },
        { name: 'B', content: '\ttwo\n', expand: true },
      ],
    });
    expect(one('ADD <<EOF /x\nbody\nEOF')).toMatchObject({ kind: 'ADD', sources: ['<<EOF'], heredocs: [{ name: 'EOF', content: 'body\n' }] });
  });

  it('the body is not read as instructions; only the exact delimiter ends it', () => {
    const [run, user] = after('RUN <<EOF\nFROM nothing\n# not a comment\n\\\nEOF \n EOF\nEOF\nUSER x\n');
    expect(run).toMatchObject({ heredocs: [{ content: 'FROM nothing\n# not a comment\n\\\nEOF \n EOF\n' }] });
    expect(user).toMatchObject({ line: 9 });
  });

  it('no heredocs in the exec form, in other instructions, or for <<< and a bare <<', () => {
    // In the exec form `<<EOF` is an argument, and the line after it an instruction.
    expect(refuses('RUN ["cat", "<<EOF"]\nEOF')).toBe('dockerfile parse error on line 3: unknown instruction: EOF (did you mean ENV?)');
    expect(after('ENV A=<<EOF\nUSER x')).toMatchObject([{ pairs: [['A', '<<EOF']] }, { kind: 'USER' }]);
    expect(one('RUN cat <<<"here string"')).toMatchObject({ heredocs: [] });
    expect(one('RUN echo a <<')).toMatchObject({ heredocs: [] });
  });

  it('ONBUILD passes its heredocs to its trigger', () => {
    expect(one('ONBUILD RUN <<EOF\necho hi\nEOF')).toMatchObject({ kind: 'ONBUILD', trigger: { kind: 'RUN', heredocs: [{ name: 'EOF', content: 'echo hi\n' }] } });
  });

  it('refuses an unterminated heredoc and a heredoc as COPY’s destination', () => {
    expect(refuses('RUN <<EOF\necho\n')).toBe('dockerfile parse error on line 2: unterminated heredoc');
    expect(refuses('RUN <<A <<B\na\nA\nb\n')).toBe('dockerfile parse error on line 2: unterminated heredoc');
    expect(refuses('COPY a <<EOF\nx\nEOF')).toBe('dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination');
  });
});

describe('parseDockerfile: instructions', () => {
  it('FROM with --platform and AS name (lower-cased, checked)', () => {
    expect(parseDockerfile('FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n').instructions[0]).toEqual({
      line: 1,
      original: 'FROM --platform=$BUILDPLATFORM golang:1.22 AS build',
      flags: [{ name: 'platform', value: '$BUILDPLATFORM' }],
      kind: 'FROM',
      image: 'golang:1.22',
      stageName: 'build',
      platform: '$BUILDPLATFORM',
    });
    const f = parseDockerfile('FROM a AS My_Stage.1\nfrom b as second\nFROM c as third\nFROM d AS second\nFROM e AS scratch\n');
    expect(f.instructions.map((i) => (i.kind === 'FROM' ? i.stageName : undefined))).toEqual(['my_stage.1', 'second', 'third', 'second', 'scratch']);
    expect(f.warnings.map((w) => [w.line, w.message])).toEqual([
      [1, "StageNameCasing: Stage name 'My_Stage.1' should be lowercase"],
      [3, "FromAsCasing: 'as' and 'FROM' keywords' casing do not match"],
      [4, 'DuplicateStageName: Duplicate stage name "second", stage names should be unique'],
      [5, 'ReservedStageName: Stage name should not use the same name as reserved stage "scratch"'],
    ]);
  });

  it('refuses a bad FROM', () => {
    expect(parseError('FROM\n').reason).toBe('FROM requires either one or three arguments');
    expect(parseError('FROM a b\n').reason).toBe('FROM requires either one or three arguments');
    expect(parseError('FROM a AS\n').reason).toBe('FROM requires either one or three arguments');
    expect(parseError('FROM a FOR b\n').reason).toBe('FROM requires either one or three arguments');
    expect(parseError('FROM a AS 1st\n').reason).toBe('invalid name for build stage: "1st", name can\'t start with a number or contain symbols');
    expect(parseError('FROM a AS b/c\n').reason).toMatch(/invalid name for build stage: "b\/c"/);
    expect(parseError('FROM --platfrom=linux/386 a\n').reason).toBe('unknown flag: --platfrom (did you mean platform?)');
  });

  it('only ARG may come before the first FROM', () => {
    const f = parseDockerfile('ARG A=1 B\n# c\nARG C\nFROM x:$A\n');
    expect(f.instructions.map((i) => i.kind)).toEqual(['ARG', 'ARG', 'FROM']);
    expect(parseError('ARG A\nRUN x\nFROM a\n').message).toBe('dockerfile parse error on line 2: no build stage in current context');
    expect(parseError('ENV A=1\n').reason).toBe('no build stage in current context');
    expect(parseError('LABEL a=b\nFROM x\n').reason).toBe('no build stage in current context');
  });

  it('ENV and LABEL: k=v pairs (quotes and escapes kept for expansion) and the legacy `k v` form', () => {
    expect(one('ENV A=1 B="two words" C=\'$x\' D=a\\ b E= F=""')).toMatchObject({
      kind: 'ENV',
      pairs: [
        ['A', '1'],
        ['B', '"two words"'],
        ['C', "'$x'"],
        ['D', 'a\\ b'],
        ['E', ''],
        ['F', '""'],
      ],
    });
    expect(one('ENV MY_NAME John Doe')).toMatchObject({ pairs: [['MY_NAME', 'John Doe']] });
    expect(one('ENV PATH=/x:$PATH \\\n    LANG=C.UTF-8')).toMatchObject({ pairs: [['PATH', '/x:$PATH'], ['LANG', 'C.UTF-8']] });
    expect(one('LABEL "com.example.vendor"="ACME Inc" version=1.0 description="multi \\\nline"')).toMatchObject({
      kind: 'LABEL',
      pairs: [
        ['"com.example.vendor"', '"ACME Inc"'],
        ['version', '1.0'],
        ['description', '"multi line"'],
      ],
    });
    expect(one('LABEL maintainer Jane')).toMatchObject({ pairs: [['maintainer', 'Jane']] });
  });

  it('refuses a bad ENV or LABEL', () => {
    expect(refuses('ENV')).toBe('dockerfile parse error on line 2: ENV requires at least one argument');
    expect(refuses('ENV ONLYKEY')).toBe('dockerfile parse error on line 2: ENV must have two arguments');
    expect(refuses('LABEL ONLYKEY')).toBe('dockerfile parse error on line 2: LABEL must have two arguments');
    expect(refuses('ENV A=1 B')).toBe('dockerfile parse error on line 2: Syntax error - can\'t find = in "B". Must be of the form: name=value');
    expect(refuses('ENV =x')).toBe('dockerfile parse error on line 2: ENV names can not be blank');
    expect(refuses('LABEL =x')).toBe('dockerfile parse error on line 2: LABEL names can not be blank');
  });

  it('ARG: names with and without defaults, several on a line', () => {
    expect(one('ARG A B=2 C="x y" D=')).toMatchObject({ kind: 'ARG', args: [{ name: 'A' }, { name: 'B', default: '2' }, { name: 'C', default: '"x y"' }, { name: 'D', default: '' }] });
    expect(one('ARG A').kind === 'ARG' && 'default' in (one('ARG A') as { args: object[] }).args[0]!).toBe(false);
    expect(refuses('ARG')).toBe('dockerfile parse error on line 2: ARG requires at least one argument');
    expect(refuses('ARG =1')).toBe('dockerfile parse error on line 2: ARG names can not be blank');
  });

  it('EXPOSE and VOLUME (JSON or words)', () => {
    expect(one('EXPOSE 80 443/tcp 53/udp $PORT')).toMatchObject({ kind: 'EXPOSE', ports: ['80', '443/tcp', '53/udp', '$PORT'] });
    expect(one('VOLUME /data /logs')).toMatchObject({ kind: 'VOLUME', paths: ['/data', '/logs'] });
    expect(one('VOLUME ["/data", " /with space "]')).toMatchObject({ paths: ['/data', '/with space'] });
    expect(refuses('EXPOSE')).toBe('dockerfile parse error on line 2: EXPOSE requires at least one argument');
    expect(refuses('VOLUME')).toBe('dockerfile parse error on line 2: VOLUME requires at least one argument');
    expect(refuses('VOLUME []')).toBe('dockerfile parse error on line 2: VOLUME requires at least one argument');
    expect(refuses('VOLUME ["/a", " "]')).toBe('dockerfile parse error on line 2: VOLUME specified can not be an empty string');
  });

  it('USER, WORKDIR, STOPSIGNAL, MAINTAINER take the rest of the line as one argument', () => {
    expect(one('USER app:app')).toMatchObject({ kind: 'USER', user: 'app:app' });
    expect(one('WORKDIR /path with/spaces')).toMatchObject({ kind: 'WORKDIR', path: '/path with/spaces' });
    expect(one('STOPSIGNAL SIGKILL')).toMatchObject({ kind: 'STOPSIGNAL', signal: 'SIGKILL' });
    const f = parseDockerfile('FROM a\nMAINTAINER Jane Doe <jane@example.com>\n');
    expect(f.instructions[1]).toMatchObject({ kind: 'MAINTAINER', name: 'Jane Doe <jane@example.com>' });
    expect(f.warnings).toEqual([{ line: 2, message: 'MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label' }]);
    for (const k of ['USER', 'WORKDIR', 'STOPSIGNAL', 'MAINTAINER']) expect(refuses(k)).toBe(`dockerfile parse error on line 2: ${k} requires exactly one argument`);
  });

  it('CMD and ENTRYPOINT', () => {
    expect(one('ENTRYPOINT exec top -b')).toMatchObject({ kind: 'ENTRYPOINT', command: { shell: 'exec top -b' } });
    expect(one('ENTRYPOINT ["top", "-b"]')).toMatchObject({ kind: 'ENTRYPOINT', command: { exec: ['top', '-b'] } });
    expect(one('CMD')).toMatchObject({ kind: 'CMD', command: { shell: '' } });
  });

  it('SHELL takes the JSON form only', () => {
    expect(one('SHELL ["powershell", "-command"]')).toMatchObject({ kind: 'SHELL', shell: ['powershell', '-command'] });
    expect(refuses('SHELL /bin/bash -c')).toBe('dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
    expect(refuses('SHELL ["/bin/bash", -c]')).toBe('dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
    expect(refuses('SHELL []')).toBe('dockerfile parse error on line 2: SHELL requires at least one argument');
    expect(refuses('SHELL')).toBe('dockerfile parse error on line 2: SHELL requires at least one argument');
    expect(refuses('SHELL ["bash", 1]')).toMatch(/arrays must be comprised of strings only/);
  });

  it('HEALTHCHECK: NONE, CMD in either form, and its five options', () => {
    expect(one('HEALTHCHECK NONE')).toMatchObject({ kind: 'HEALTHCHECK', test: 'NONE', options: {} });
    expect(one('healthcheck cmd curl -f http://localhost/ || exit 1')).toMatchObject({ test: { shell: 'curl -f http://localhost/ || exit 1' }, options: {} });
    expect(one('HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 \\\n  CMD ["curl", "-f", "http://localhost/"]')).toMatchObject({
      test: { exec: ['curl', '-f', 'http://localhost/'] },
      options: { interval: '5m', timeout: '3s', startPeriod: '1m30s', startInterval: '500ms', retries: '3' },
    });
    expect(one('HEALTHCHECK --interval= --retries= CMD true')).toMatchObject({ options: {} });
  });

  it('refuses a bad HEALTHCHECK', () => {
    expect(refuses('HEALTHCHECK')).toBe('dockerfile parse error on line 2: HEALTHCHECK requires at least one argument');
    expect(refuses('HEALTHCHECK NONE now')).toBe('dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments');
    expect(refuses('HEALTHCHECK CMD')).toBe('dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD');
    expect(refuses('HEALTHCHECK RUN x')).toBe('dockerfile parse error on line 2: Unknown type "RUN" in HEALTHCHECK (try CMD)');
    expect(refuses('HEALTHCHECK --interval=5 CMD x')).toBe('dockerfile parse error on line 2: time: missing unit in duration "5"');
    expect(refuses('HEALTHCHECK --timeout=soon CMD x')).toBe('dockerfile parse error on line 2: time: invalid duration "soon"');
    expect(refuses('HEALTHCHECK --timeout=3y CMD x')).toBe('dockerfile parse error on line 2: time: unknown unit "y" in duration "3y"');
    expect(refuses('HEALTHCHECK --interval=500us CMD x')).toBe('dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms');
    expect(refuses('HEALTHCHECK --retries=-1 CMD x')).toBe('dockerfile parse error on line 2: --retries cannot be negative (-1)');
    expect(refuses('HEALTHCHECK --retries=two CMD x')).toBe('dockerfile parse error on line 2: strconv.ParseInt: parsing "two": invalid syntax');
    expect(refuses('HEALTHCHECK --period=1s CMD x')).toBe('dockerfile parse error on line 2: unknown flag: --period');
  });

  it('ONBUILD: the trigger is parsed as an instruction', () => {
    expect(one('ONBUILD ADD . /app/src')).toEqual({
      line: 2,
      original: 'ONBUILD ADD . /app/src',
      flags: [],
      kind: 'ONBUILD',
      trigger: { line: 2, original: 'ADD . /app/src', flags: [], kind: 'ADD', sources: ['.'], dest: '/app/src', heredocs: [], link: false, parents: false, exclude: [], keepGitDir: false },
    });
    expect(one('onbuild run --mount=type=cache,target=/c make')).toMatchObject({ trigger: { kind: 'RUN', original: 'RUN --mount=type=cache,target=/c make', mounts: ['type=cache,target=/c'] } });
  });

  it('refuses ONBUILD ONBUILD, ONBUILD FROM, ONBUILD MAINTAINER and a bad trigger', () => {
    expect(refuses('ONBUILD ONBUILD RUN x')).toBe('dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    expect(refuses('ONBUILD from x')).toBe("dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger");
    expect(refuses('ONBUILD MAINTAINER me')).toBe("dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger");
    expect(refuses('ONBUILD')).toBe('dockerfile parse error on line 2: ONBUILD requires at least one argument');
    expect(refuses('ONBUILD BOGUS x')).toBe('dockerfile parse error on line 2: unknown instruction: BOGUS');
    expect(refuses('ONBUILD COPY --form=a b c')).toBe('dockerfile parse error on line 2: unknown flag: --form (did you mean from?)');
  });
});

describe('parseDockerfile: flags', () => {
  it('RUN --mount (repeatable, raw), --network, --security; quotes removed; -- ends the flags', () => {
    expect(one('RUN --mount=type=cache,target=/root/.cache --mount="type=bind,source=a b,target=/x" --network=none --security=insecure make')).toMatchObject({
      mounts: ['type=cache,target=/root/.cache', 'type=bind,source=a b,target=/x'],
      network: 'none',
      security: 'insecure',
      command: { shell: 'make' },
      flags: [
        { name: 'mount', value: 'type=cache,target=/root/.cache' },
        { name: 'mount', value: 'type=bind,source=a b,target=/x' },
        { name: 'network', value: 'none' },
        { name: 'security', value: 'insecure' },
      ],
    });
    expect(one('RUN --network=host -- --version')).toMatchObject({ network: 'host', command: { shell: '--version' } });
    expect(one('RUN --mount=type=secret,id=x ["cat", "/run/secrets/x"]')).toMatchObject({ mounts: ['type=secret,id=x'], command: { exec: ['cat', '/run/secrets/x'] } });
  });

  it('refuses bad RUN flags', () => {
    expect(refuses('RUN --network=bridge x')).toBe('dockerfile parse error on line 2: invalid network mode "bridge"');
    expect(refuses('RUN --security=root x')).toBe('dockerfile parse error on line 2: security "root" is not valid');
    expect(refuses('RUN --mount x')).toBe('dockerfile parse error on line 2: missing a value on flag: --mount');
    expect(refuses('RUN --network=none --network=host x')).toBe('dockerfile parse error on line 2: duplicate flag specified: --network');
    expect(refuses('RUN --mnt=type=cache x')).toBe('dockerfile parse error on line 2: unknown flag: --mnt (did you mean mount?)');
    expect(refuses('RUN --help')).toBe('dockerfile parse error on line 2: unknown flag: --help');
  });

  it('COPY: --from --chown --chmod --link --parents --exclude, and the JSON form', () => {
    expect(one('COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=.git ./a b* /dst/')).toMatchObject({
      kind: 'COPY',
      sources: ['./a', 'b*'],
      dest: '/dst/',
      from: 'build',
      chown: 'app:app',
      chmod: '0755',
      link: true,
      parents: true,
      exclude: ['*.md', '.git'],
      keepGitDir: false,
    });
    expect(one('COPY ["a b", "c", "/dst/"]')).toMatchObject({ sources: ['a b', 'c'], dest: '/dst/' });
    expect(one('COPY --link=false "a b" /d')).toMatchObject({ link: false, sources: ['"a', 'b"'], dest: '/d' });
    expect(one('COPY --link=TRUE a /d')).toMatchObject({ link: true, flags: [{ name: 'link', value: 'TRUE' }] });
    expect(one('COPY --link a /d')).toMatchObject({ flags: [{ name: 'link', value: undefined }] });
  });

  it('ADD: --chown --chmod --link --checksum --keep-git-dir --exclude', () => {
    expect(one('ADD --checksum=sha256:24454f830cdd --keep-git-dir=true --link --exclude=x https://example.com/a.tar.gz /')).toMatchObject({
      kind: 'ADD',
      sources: ['https://example.com/a.tar.gz'],
      dest: '/',
      checksum: 'sha256:24454f830cdd',
      keepGitDir: true,
      link: true,
      exclude: ['x'],
    });
  });

  it('refuses what COPY and ADD do not take', () => {
    expect(refuses('COPY onlyone')).toBe('dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    expect(refuses('ADD ["one"]')).toBe('dockerfile parse error on line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined');
    expect(refuses('ADD --from=build a b')).toBe('dockerfile parse error on line 2: unknown flag: --from');
    expect(refuses('ADD --parents a b')).toBe('dockerfile parse error on line 2: unknown flag: --parents');
    expect(refuses('COPY --checksum=sha256:x a b')).toBe('dockerfile parse error on line 2: unknown flag: --checksum');
    expect(refuses('COPY --keep-git-dir a b')).toBe('dockerfile parse error on line 2: unknown flag: --keep-git-dir');
    expect(refuses('COPY --chown a b')).toBe('dockerfile parse error on line 2: missing a value on flag: --chown');
    expect(refuses('COPY --link= a b')).toBe('dockerfile parse error on line 2: missing a value on flag: --link');
    expect(refuses('COPY --link=maybe a b')).toBe('dockerfile parse error on line 2: expecting boolean value for flag --link, not: maybe');
    expect(refuses('COPY --chown=a --chown=b a b')).toBe('dockerfile parse error on line 2: duplicate flag specified: --chown');
    expect(refuses('COPY --Chown=a a b')).toBe('dockerfile parse error on line 2: unknown flag: --Chown (did you mean chown?)');
  });

  it('instructions that take no flags refuse them', () => {
    for (const text of ['ENV --x=1 A=b', 'LABEL --x a=b', 'ARG --x A', 'WORKDIR --x /w', 'USER --x u', 'EXPOSE --x 80', 'VOLUME --x /v', 'CMD --x', 'ENTRYPOINT --x y', 'SHELL --x ["a"]', 'STOPSIGNAL --x 9', 'MAINTAINER --x me', 'ONBUILD --x RUN y']) {
      expect(refuses(text)).toBe('dockerfile parse error on line 2: unknown flag: --x');
    }
  });
});

describe('parseDockerfile: input that is not a Dockerfile', () => {
  /** A deterministic byte stream (xorshift32). */
  const randomBytes = (n: number, seed: number): Uint8Array => {
    const out = new Uint8Array(n);
    let x = seed;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  };

  it('1 MB of random bytes: a clear error, quickly, as bytes or decoded', () => {
    for (const seed of [1, 2, 3]) {
      const bytes = randomBytes(1 << 20, seed);
      const started = performance.now();
      const e = parseError(bytes);
      expect(e.reason).toMatch(/^(invalid UTF-8|NUL byte: a Dockerfile is text)$/);
      expect(e.line).toBeGreaterThan(0);
      const e2 = parseError(new TextDecoder().decode(bytes));
      expect(e2.reason).toMatch(/^(invalid UTF-8|NUL byte: a Dockerfile is text)$/);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it('1 MB of random printable text: an error about it, quickly', () => {
    const bytes = randomBytes(1 << 20, 7).map((b) => (b % 64 === 0 ? 0x0a : 0x20 + (b % 95)));
    const started = performance.now();
    const e = parseError(new TextDecoder().decode(bytes));
    expect(e.reason).toMatch(/unknown instruction|no build stage|file with no instructions|unterminated heredoc/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('a NUL byte or invalid UTF-8 names the line', () => {
    expect(parseError('FROM a\nRUN echo \0\n').message).toBe('dockerfile parse error on line 2: NUL byte: a Dockerfile is text');
    expect(parseError(new Uint8Array([...new TextEncoder().encode('FROM a\nRUN echo é\nRUN '), 0xc3, 0x28, 0x0a])).message).toBe('dockerfile parse error on line 3: invalid UTF-8');
    expect(parseError(new Uint8Array([0x46, 0x0a, 0xed, 0xa0, 0x80])).message).toBe('dockerfile parse error on line 2: invalid UTF-8'); // an encoded surrogate
    expect(parseError(new Uint8Array([0xc0, 0x80])).message).toBe('dockerfile parse error on line 1: invalid UTF-8'); // overlong
    expect(parseError('FROM a\n\nLABEL x=\uD800\n').message).toBe('dockerfile parse error on line 3: invalid UTF-8');
    expect(parseError('FROM a\nLABEL x=\uFFFD\n').reason).toBe('invalid UTF-8');
  });

  it('valid UTF-8 bytes parse as text', () => {
    expect(parseDockerfile(new TextEncoder().encode('\uFEFFFROM a\nLABEL é=🐳\n')).instructions[1]).toMatchObject({ pairs: [['é', '🐳']] });
  });

  it('refuses a line longer than BuildKit reads (64 KiB), quickly', () => {
    const long = `RUN echo ${'x '.repeat(40000)}`;
    expect(parseError(`FROM a\n${long}\n`).message).toBe('dockerfile parse error on line 2: dockerfile line greater than max allowed size of 65535');
    expect(one(`RUN echo ${'x'.repeat(60000)}`)).toMatchObject({ kind: 'RUN' });
  });

  it('long lines of blanks and escapes do not take long', () => {
    const started = performance.now();
    parseDockerfile(`# a=b${' '.repeat(60000)}c\nFROM a\nRUN x${' \\'.repeat(30000)}\n`);
    expect(one(`RUN cat <<${' '.repeat(60000)}<`)).toMatchObject({ heredocs: [] });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['1.5h', 5400e9],
    ['300ms', 300e6],
    ['10us', 10e3],
    ['10µs', 10e3],
    ['.5s', 0.5e9],
    ['-2s', -2e9],
  ])('%s → %d ns', (text, ns) => expect(parseGoDuration(text)).toBe(ns));

  it('refuses what Go refuses', () => {
    expect(() => parseGoDuration('')).toThrow('time: invalid duration ""');
    expect(() => parseGoDuration('5')).toThrow('time: missing unit in duration "5"');
    expect(() => parseGoDuration('5d')).toThrow('time: unknown unit "d" in duration "5d"');
    expect(() => parseGoDuration('.s')).toThrow('time: invalid duration ".s"');
  });
});
