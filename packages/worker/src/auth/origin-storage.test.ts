import { entryPathProblem, ORIGIN_STORAGE } from './origin-storage';

describe('entryPathProblem', () => {
  it.each([
    'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb',
    'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/',
    'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000003.log',
    'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/3',
    'Default/Local Storage/leveldb/MANIFEST-000001',
  ])('allows %s', (entryPath) => {
    expect(entryPathProblem(entryPath)).toBeNull();
  });

  it.each([
    ['', 'an empty path'],
    ['/etc/passwd', 'an absolute path'],
    ['C:/x', 'an absolute path'],
    ['Default\\Local Storage\\leveldb\\x', 'a backslash in the path'],
    ['../x', 'a `..` segment'],
    ['Default/Local Storage/leveldb/../../../x', 'a `..` segment'],
    ['Default/Local Storage/leveldb//x', 'an empty or `.` segment'],
    ['./Default/Local Storage/leveldb/x', 'an empty or `.` segment'],
    ['Default/Cookies', 'a path outside the WhatsApp origin storage'],
    ['Default/Local Storage', 'a path outside the WhatsApp origin storage'],
    ['Default/Local Storage/leveldb-evil/x', 'a path outside the WhatsApp origin storage'],
    ['Default/IndexedDB/https_evil.example_0.indexeddb.leveldb/CURRENT', 'a path outside the WhatsApp origin storage'],
  ])('refuses %j: %s', (entryPath, problem) => {
    expect(entryPathProblem(entryPath)).toBe(problem);
  });

  it('names only folders of the profile, relative and in POSIX form', () => {
    for (const root of ORIGIN_STORAGE) expect(entryPathProblem(root)).toBeNull();
  });
});
