/**
 * The public API of HPA channel sets and the fused merge, re-exported by src/index.ts as one line.
 */
export { CHANNEL_NAMES, CHANNEL_EXTENSIONS, discoverChannelSets, parseChannelFileName } from './channels.js';
export type { ChannelName, ChannelSet, ChannelSetScan, IncompleteSet } from './channels.js';
export { decodeChannel, reduceTo8Bit, channelComponent, DEFAULT_MAX_PIXELS } from './decode.js';
export type { DecodedChannel, DecodeOptions } from './decode.js';
export { mergeChannels, mergeChannelsSync, IMAGENET_NORMALIZATION } from './merge.js';
export type { MergeMode, MergeOptions, MergedImage, ChannelImages, Normalization } from './merge.js';
export { mergeSet, mergeSetToPng, fitLongerSide } from './merge-set.js';
export type { MergeSetOptions, MergeSetToPngOptions, MergeSetResult } from './merge-set.js';
export { mergeFolder, isValidOutput, defaultMergeConcurrency, MERGE_SUMMARY_NAME } from './merge-folder.js';
export type { MergeFolderOptions, MergeFolderSummary, MergeFailure } from './merge-folder.js';
export { ChannelSetError } from './merge-errors.js';
export type { ChannelSetErrorKind } from './merge-errors.js';
