export * from './status';
export * from './ids';
export * from './http';
export * from './webhook';
export * from './browser-pipes';
export * from './reasons';
