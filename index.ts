import { loadConfig } from "./config/load";
import { infermesh } from "./program";

const outputs = infermesh(loadConfig());

export const region = outputs.region;
export const clusterName = outputs.clusterName;
export const clusterEndpoint = outputs.clusterEndpoint;
export const kubeconfig = outputs.kubeconfig;
export const gpuNodeGroupNames = outputs.gpuNodeGroupNames;
export const prometheusUrl = outputs.prometheusUrl;
export const ampEndpoint = outputs.ampEndpoint;
export const grafanaUrl = outputs.grafanaUrl;
export const dashboardUrls = outputs.dashboardUrls;
export const snsTopics = outputs.snsTopics;
